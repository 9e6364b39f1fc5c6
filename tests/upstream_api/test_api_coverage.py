"""Every public name of upstream tensorpack 0.11 resolves here, or is listed as absent with a
reason; the coverage page in docs/ matches."""
import api_coverage_lib as lib
import update_api_coverage


def test_upstream_names_data_is_complete():
    upstream = lib.load_upstream()
    for module in ("tensorpack", "tensorpack.tfutils.optimizer", "tensorpack.callbacks",
                   "tensorpack.dataflow.imgaug", "tensorpack.utils.viz", "tensorpack.models"):
        assert upstream[module], module
    assert sum(len(v) for v in upstream.values()) > 800


def test_every_upstream_name_resolves_or_is_known_absent():
    rows, _ = lib.check_all()
    missing = ["{}.{}".format(m, n) for m, n, _, ok, reason in rows if not ok and not reason]
    assert not missing, ("Upstream names that neither resolve nor are listed in "
                         "tests/upstream_api/known_absent.json: {}".format(missing))
    assert all(reason for _, _, _, ok, reason in rows if not ok)


def test_known_absent_list_has_no_stale_entries():
    _, stale = lib.check_all()
    assert not stale, ("These known-absent entries now resolve; run "
                       "`PYTHONPATH=. python tests/upstream_api/update_api_coverage.py`: "
                       "{}".format(stale))


def test_coverage_page_is_current():
    rows, _ = lib.check_all()
    with open(update_api_coverage.DOC) as f:
        assert f.read() == update_api_coverage.render(rows), (
            "docs/api_coverage.md is out of date; run "
            "`PYTHONPATH=. python tests/upstream_api/update_api_coverage.py`.")
