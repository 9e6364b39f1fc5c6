"""Names shared by several modules (upstream's ``tensorpack.utils.naming``)."""

GLOBAL_STEP_INCR_OP_NAME = "global_step_incr"

# collection of the ops updating the moving averages of add_moving_summary()
MOVING_SUMMARY_OPS_KEY = "MOVING_SUMMARY_OPS"
