/* Voter placement over regions (see placement.h for the rules). Quadratic in
 * the number of servers, which is at most a few dozen. */
#include <raft.h>
#include <string.h>

#include "raft/placement.h"

static const char *region_of(const struct repl_place_member *m)
{
	return m->region != NULL ? m->region : "";
}

/* How many reachable voters are in the region of m. */
static unsigned cover(const struct repl_place_member *members, size_t n, const struct repl_place_member *m)
{
	unsigned c = 0;
	for (size_t i = 0; i < n; i++) {
		const struct repl_place_member *o = &members[i];
		c += o->role == RAFT_VOTER && o->reachable && strcmp(region_of(o), region_of(m)) == 0;
	}
	return c;
}

/* The standby to promote: reachable, caught up, least covered region, lowest id. */
static const struct repl_place_member *best_candidate(const struct repl_place_member *members, size_t n)
{
	const struct repl_place_member *best = NULL;
	unsigned best_cover = 0;
	for (size_t i = 0; i < n; i++) {
		const struct repl_place_member *m = &members[i];
		if (m->role != RAFT_STANDBY || !m->reachable || !m->caught_up) {
			continue;
		}
		unsigned c = cover(members, n, m);
		if (best == NULL || c < best_cover || (c == best_cover && m->id < best->id)) {
			best = m;
			best_cover = c;
		}
	}
	return best;
}

/* True if a demotes before b: unreachable first, then more covered, then higher id. */
static bool demotes_before(const struct repl_place_member *members, size_t n, const struct repl_place_member *a,
                           const struct repl_place_member *b)
{
	if (a->reachable != b->reachable) {
		return !a->reachable;
	}
	unsigned ca = cover(members, n, a), cb = cover(members, n, b);
	return ca != cb ? ca > cb : a->id > b->id;
}

/* The voter to demote, or NULL if none can go without losing the majority. */
static const struct repl_place_member *best_demotion(const struct repl_place_member *members, size_t n,
                                                      unsigned voters, unsigned reachable, uint64_t self_id)
{
	const struct repl_place_member *best = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct repl_place_member *m = &members[i];
		if (m->role != RAFT_VOTER || m->id == self_id) {
			continue;
		}
		unsigned left = reachable - (m->reachable ? 1u : 0u);
		if (left < (voters - 1) / 2 + 1) {
			continue; /* the new configuration could not commit */
		}
		if (best == NULL || demotes_before(members, n, m, best)) {
			best = m;
		}
	}
	return best;
}

struct repl_place_step repl_place_next(const struct repl_place_member *members, size_t n, unsigned max_voters,
                                       uint64_t self_id)
{
	struct repl_place_step none = {REPL_PLACE_NONE, 0};
	unsigned voters = 0, reachable = 0, most_cover = 0;
	bool voter_down = false;
	for (size_t i = 0; i < n; i++) {
		if (members[i].role != RAFT_VOTER) {
			continue;
		}
		voters++;
		reachable += members[i].reachable;
		voter_down = voter_down || !members[i].reachable;
		unsigned c = cover(members, n, &members[i]);
		most_cover = c > most_cover ? c : most_cover;
	}
	if (max_voters == 0 || voters == 0 || reachable < voters / 2 + 1) {
		return none;
	}
	if (voters > max_voters) {
		const struct repl_place_member *d = best_demotion(members, n, voters, reachable, self_id);
		return d != NULL ? (struct repl_place_step){REPL_PLACE_DEMOTE, d->id} : none;
	}
	const struct repl_place_member *c = best_candidate(members, n);
	if (c == NULL) {
		return none;
	}
	if (voters < max_voters || voter_down || most_cover >= cover(members, n, c) + 2) {
		return (struct repl_place_step){REPL_PLACE_PROMOTE, c->id};
	}
	return none;
}
