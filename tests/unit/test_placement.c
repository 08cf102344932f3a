/* raft/placement: the autopilot's voter placement, as tables of
 * configurations and the one step expected, and as runs that apply each step
 * until none is left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <raft.h>
#include <stdio.h>
#include <string.h>

#include "raft/placement.h"

/* Members: voter, voter unreachable, standby (reachable, caught up), standby
 * lagging, standby unreachable, spare. */
#define V(id, reg) {id, RAFT_VOTER, reg, true, true}
#define VD(id, reg) {id, RAFT_VOTER, reg, false, false}
#define S(id, reg) {id, RAFT_STANDBY, reg, true, true}
#define SL(id, reg) {id, RAFT_STANDBY, reg, true, false}
#define SD(id, reg) {id, RAFT_STANDBY, reg, false, false}
#define P(id, reg) {id, RAFT_SPARE, reg, true, true}

#define MAX_MEMBERS 8

struct place_case {
	const char *name;
	unsigned max_voters;
	uint64_t self;
	struct repl_place_member m[MAX_MEMBERS];
	enum repl_place_action action;
	uint64_t id;
};

static size_t count_members(const struct repl_place_member *m)
{
	size_t n = 0;
	while (n < MAX_MEMBERS && m[n].id != 0) {
		n++;
	}
	return n;
}

static const struct place_case cases[] = {
	{"no limit: autopilot leaves roles alone", 0, 1, {V(1, "a"), V(2, "a"), S(3, "b")}, REPL_PLACE_NONE, 0},
	{"five voters in three regions, max 3: demote in the most covered region", 3, 1,
	 {V(1, "a"), V(2, "a"), V(3, "b"), V(4, "b"), V(5, "c")}, REPL_PLACE_DEMOTE, 4},
	{"a region lost its voter: promote the standby there", 3, 1,
	 {V(1, "a"), V(2, "b"), S(4, "a"), S(3, "c")}, REPL_PLACE_PROMOTE, 3},
	{"every region covered and max reached: nothing", 3, 1,
	 {V(1, "a"), V(2, "b"), V(3, "c"), S(4, "a"), S(5, "c")}, REPL_PLACE_NONE, 0},
	{"two voters in a region, a standby in an empty one: promote it first", 3, 1,
	 {V(1, "a"), V(2, "a"), V(3, "b"), S(4, "c")}, REPL_PLACE_PROMOTE, 4},
	{"surplus voter after that promotion: demote it from the most covered region", 3, 1,
	 {V(1, "a"), V(2, "a"), V(3, "b"), V(4, "c")}, REPL_PLACE_DEMOTE, 2},
	{"a swap that would not improve the spread: nothing", 3, 1,
	 {V(1, "a"), V(2, "a"), V(3, "b"), S(4, "b")}, REPL_PLACE_NONE, 0},
	{"unreachable and lagging candidates are skipped", 3, 1,
	 {V(1, "a"), V(2, "a"), V(3, "b"), SD(4, "c"), SL(5, "c"), S(6, "a")}, REPL_PLACE_NONE, 0},
	{"below max: the only eligible candidate, even in a covered region", 4, 1,
	 {V(1, "a"), V(2, "a"), V(3, "b"), SD(4, "c"), SL(5, "c"), S(6, "a")}, REPL_PLACE_PROMOTE, 6},
	{"never below max_voters, even when all voters share a region", 3, 1,
	 {V(1, "a"), V(2, "a"), V(3, "a"), SD(4, "b")}, REPL_PLACE_NONE, 0},
	{"never below max_voters: voters equal to max are kept", 2, 1, {V(1, "a"), V(2, "a")}, REPL_PLACE_NONE, 0},
	{"an unreachable voter: promote a standby to replace it", 3, 1,
	 {V(1, "a"), V(2, "b"), VD(3, "c"), S(4, "c")}, REPL_PLACE_PROMOTE, 4},
	{"then the unreachable voter is the surplus one demoted", 3, 1,
	 {V(1, "a"), V(2, "b"), VD(3, "c"), V(4, "c")}, REPL_PLACE_DEMOTE, 3},
	{"unreachable voters are demoted before a crowded region's", 3, 1,
	 {V(1, "a"), V(2, "a"), V(3, "a"), VD(4, "b"), VD(5, "c")}, REPL_PLACE_DEMOTE, 5},
	{"no reachable majority: nothing could commit", 3, 1,
	 {V(1, "a"), VD(2, "b"), VD(3, "c"), S(4, "b")}, REPL_PLACE_NONE, 0},
	{"the leader is never demoted", 3, 2,
	 {V(1, "a"), V(2, "a"), V(3, "b"), V(4, "c")}, REPL_PLACE_DEMOTE, 1},
	{"spares are never promoted", 3, 1, {V(1, "a"), V(2, "b"), P(3, "c")}, REPL_PLACE_NONE, 0},
	{"ties go to the lowest id", 3, 1,
	 {V(1, "a"), V(2, "b"), S(7, "c"), S(5, "d"), S(6, "c")}, REPL_PLACE_PROMOTE, 5},
	{"an unknown region is a region of its own", 3, 1,
	 {V(1, "a"), V(2, "a"), V(3, "b"), S(4, NULL)}, REPL_PLACE_PROMOTE, 4},
	{"no voters at all: nothing", 3, 1, {S(1, "a"), S(2, "b")}, REPL_PLACE_NONE, 0},
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct place_case *c = &cases[i];
		struct repl_place_step s = repl_place_next(c->m, count_members(c->m), c->max_voters, c->self);
		if (s.action != c->action || s.id != c->id) {
			fail_msg("%s: got action %d id %llu, want action %d id %llu", c->name, s.action,
			         (unsigned long long)s.id, c->action, (unsigned long long)c->id);
		}
	}
}

static unsigned count_voters(const struct repl_place_member *m, size_t n)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		v += m[i].role == RAFT_VOTER;
	}
	return v;
}

/* Applies steps until there is none (at most 10), checking that voters never
 * drop below min(start, max); returns the steps taken. */
static int converge(struct repl_place_member *m, size_t n, unsigned max_voters, uint64_t self)
{
	unsigned start = count_voters(m, n), floor = start < max_voters ? start : max_voters;
	for (int steps = 0; steps < 10; steps++) {
		struct repl_place_step s = repl_place_next(m, n, max_voters, self);
		if (s.action == REPL_PLACE_NONE) {
			return steps;
		}
		for (size_t i = 0; i < n; i++) {
			if (m[i].id == s.id) {
				m[i].role = s.action == REPL_PLACE_PROMOTE ? RAFT_VOTER : RAFT_STANDBY;
			}
		}
		assert_true(count_voters(m, n) >= floor);
		assert_true(count_voters(m, n) <= (max_voters > start ? max_voters : start) + 1);
	}
	fail_msg("no fixed point after 10 steps");
	return -1;
}

/* Runs placement on m from its start to the end: it takes steps steps and
 * leaves the voters want ("1,3,5": ids in member order). */
static void expect_settles(struct repl_place_member *m, size_t n, unsigned max_voters, int steps, const char *want)
{
	char ids[64];
	size_t len = 0;
	assert_int_equal(converge(m, n, max_voters, 1), steps);
	ids[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (m[i].role == RAFT_VOTER) {
			len += (size_t)snprintf(ids + len, sizeof(ids) - len, "%s%llu", len ? "," : "",
			                        (unsigned long long)m[i].id);
		}
	}
	assert_string_equal(ids, want);
}

struct place_run {
	const char *name;
	unsigned max_voters;
	struct repl_place_member m[MAX_MEMBERS];
	int steps;        /* steps taken until none is left */
	const char *want; /* the voters then */
};

static const struct place_run runs[] = {
	{"five voters in three regions, max 3", 3, {V(1, "a"), V(2, "a"), V(3, "b"), V(4, "b"), V(5, "c")}, 2, "1,3,5"},
	/* two swaps, each a promotion then a demotion */
	{"three voters in one region, standbys in two others", 3,
	 {V(1, "a"), V(2, "a"), V(3, "a"), S(4, "b"), S(5, "c")}, 4, "1,4,5"},
	{"a dead voter replaced in its region", 3, {V(1, "a"), V(2, "b"), VD(3, "c"), S(4, "c"), S(5, "a")}, 2, "1,2,4"},
	{"more regions than voters: no churn once spread", 3,
	 {V(1, "a"), V(2, "a"), S(3, "b"), S(4, "c"), S(5, "d"), S(6, "e")}, 3, "1,3,4"},
};

static void test_runs(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		struct repl_place_member m[MAX_MEMBERS];
		memcpy(m, runs[i].m, sizeof(m));
		print_message("%s\n", runs[i].name);
		expect_settles(m, count_members(m), runs[i].max_voters, runs[i].steps, runs[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_runs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
