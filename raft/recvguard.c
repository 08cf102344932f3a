/* A follower-side guard of canonical/raft 0.15.0.
 *
 * canonical/raft 0.15.0 appends an AppendEntries that starts
 * at the first entry (prev_log_index 0) after its own log even when that
 * log starts after a snapshot, then fails to find the entries it just
 * appended: raft stops (RAFT_UNAVAILABLE) or crashes in the truncation that
 * follows (found by bench/run and a failover loop: a restarted follower with
 * a snapshot, a leader without one that restarted it at index 1 after a
 * failed send). Installed on raft_uv's io before raft_start: such a message
 * is started at this node's snapshot instead (its entries up to there are
 * committed, hence the snapshot's), or dropped when it ends before it.
 *
 * It sits between raft_uv and raft on received messages and changes only
 * such an AppendEntries. It also notes who each message came from
 * (contact.c), the last contact GET /api/v1/cluster shows. */
#include <raft.h>
#include <stddef.h>

#include "raft/internal.h"

/* Frees entries the way raft does: each batch once, then the array. */
static void free_entries(struct raft_entry *entries, unsigned n)
{
	void *last = NULL;
	for (unsigned i = 0; i < n; i++) {
		if (entries[i].batch != NULL && entries[i].batch != last) {
			last = entries[i].batch;
			raft_free(last);
		}
	}
	raft_free(entries);
}

/* The repl whose raft_uv io this is (the guard is installed on r->io only). */
static struct repl *repl_of_io(struct raft_io *io)
{
	return (struct repl *)((char *)io - offsetof(struct repl, io));
}

static void guarded_recv(struct raft_io *io, struct raft_message *m)
{
	struct repl *r = repl_of_io(io);
	struct raft_append_entries *a = &m->append_entries;
	raft_index snap = r->raft.log.snapshot.last_index;
	repl_contact_heard(r, m->server_id);
	if (m->type == RAFT_IO_APPEND_ENTRIES && a->prev_log_index == 0 && a->n_entries > 0 && r->raft.log.offset > 0 &&
	    snap > 0) {
		r->m.appends_trimmed++;
		if (a->n_entries < snap) {
			/* cannot reach past the snapshot: a stale message, dropped */
			free_entries(a->entries, a->n_entries);
			return;
		}
		/* Entries 1..snap are committed, so they are the ones the snapshot
		 * holds: start the message at the snapshot instead. */
		unsigned skip = (unsigned)snap, left = a->n_entries - skip;
		a->prev_log_term = a->entries[skip - 1].term;
		a->prev_log_index = snap;
		if (left == 0) {
			free_entries(a->entries, a->n_entries);
			a->entries = NULL;
		} else {
			for (unsigned i = 0; i < left; i++) { /* the batch stays referenced by what is left */
				a->entries[i] = a->entries[skip + i];
			}
		}
		a->n_entries = left;
	}
	r->raft_recv(io, m);
}

static int guarded_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
	struct repl *r = repl_of_io(io);
	r->raft_recv = recv;
	return r->io_start(io, msecs, tick, guarded_recv);
}

void repl_recv_guard_install(struct repl *r)
{
	r->io_start = r->io.start;
	r->io.start = guarded_start;
}
