/* The duty kinds, in the order their ticks run. A new kind of periodic
 * work (rollouts, say) is one more file with its struct duty_kind and one
 * more line here. */
#include "scheduler/duty.h"

extern const struct duty_kind sched_collect_duty; /* collect.c */
extern const struct duty_kind sched_webhook_duty; /* deliver.c */
extern const struct duty_kind sched_alerts_duty;  /* alerting.c */
extern const struct duty_kind sched_retention_duty; /* retention.c */
extern const struct duty_kind sched_identity_duty;  /* identity.c */

const struct duty_kind *const sched_duty_kinds[] = {
	&sched_collect_duty,
	&sched_webhook_duty,
	&sched_alerts_duty,
	&sched_retention_duty,
	&sched_identity_duty,
	NULL,
};
