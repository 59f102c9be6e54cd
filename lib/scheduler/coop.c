/* libasyncrt - cooperative scheduling budget (see coop-private.h) */
#include "scheduler/coop-private.h"

_Thread_local unsigned asyncrt__coop_budget = ASYNCRT_COOP_UNCONSTRAINED;
