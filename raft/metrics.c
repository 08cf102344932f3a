/* The raft actor's metrics, rendered on request (GET /metrics asks over the bus). */
#include <stdio.h>
#include <stdlib.h>

#include "raft/internal.h"

static void counter(struct metrics_text *t, const char *name, const char *help, uint64_t v)
{
	metrics_header(t, name, "counter", help);
	metrics_printf(t, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(struct metrics_text *t, const char *name, const char *help, double v)
{
	metrics_header(t, name, "gauge", help);
	metrics_printf(t, "%s %.17g\n", name, v);
}

void repl_on_metrics_query(struct repl *r, bus_request *req)
{
	struct metrics_text t = {0};
	int st = raft_state(&r->raft);
	uint64_t map_size, used;
	metrics_header(&t, "shiplog_raft_state", "gauge", "1 for the node's current Raft state");
	const char *states[] = {"unavailable", "follower", "candidate", "leader"};
	for (int i = 0; i < 4; i++) {
		metrics_printf(&t, "shiplog_raft_state{state=\"%s\"} %d\n", states[i], st == i);
	}
	gauge(&t, "shiplog_raft_term", "Current Raft term", (double)r->raft.current_term);
	gauge(&t, "shiplog_raft_commit_index", "Highest log index known committed", (double)r->raft.commit_index);
	gauge(&t, "shiplog_raft_applied_index", "Highest log index applied here", (double)raft_last_applied(&r->raft));
	gauge(&t, "shiplog_raft_members", "Servers in the Raft configuration", (double)r->raft.configuration.n);
	counter(&t, "shiplog_raft_leader_changes_total", "Leader changes seen by this node", r->m.leader_changes);
	counter(&t, "shiplog_raft_proposals_total", "Commands proposed on this node as leader", r->m.proposals);
	counter(&t, "shiplog_raft_entries_proposed_total", "Log entries proposed for those commands (a batch is one)",
	        r->m.entries_proposed);
	counter(&t, "shiplog_raft_entry_bytes_total", "Bytes of those entries as appended to the log (LZ4 when it saves)",
	        r->m.entry_bytes);
	counter(&t, "shiplog_raft_entry_uncompressed_bytes_total", "Bytes of those entries before compression",
	        r->m.entry_bytes_raw);
	counter(&t, "shiplog_raft_probe_restarts_total",
	        "Leader: probes of a follower restarted past the end of the log (raft 0.15 catch-up repair)",
	        r->probefix.restarts);
	counter(&t, "shiplog_raft_appends_trimmed_total",
	        "Follower: appends from the first entry started at this node's snapshot instead (raft 0.15 repair)",
	        r->m.appends_trimmed);
	counter(&t, "shiplog_raft_commands_applied_total", "Commands applied here (entries hold one or a batch)",
	        r->fsm.commands_applied);
	counter(&t, "shiplog_forwarded_writes_total", "Writes forwarded from this node to the leader", r->m.forwarded);
	counter(&t, "shiplog_forward_messages_total", "Messages to the leader carrying those writes and reads",
	        r->m.forward_messages);
	counter(&t, "shiplog_barrier_rounds_total", "Quorum rounds run for linearizable reads", r->m.barrier_rounds);
	counter(&t, "shiplog_barrier_reads_total", "Linearizable reads answered by those rounds", r->m.barrier_reads);
	counter(&t, "shiplog_barrier_log_rounds_total",
	        "Of those rounds, the ones run as a barrier log entry (a voter could not confirm the term)",
	        r->m.barrier_log_rounds);
	counter(&t, "shiplog_raft_snapshots_total", "Snapshots taken", r->fsm.snapshots);
	metrics_header(&t, "shiplog_raft_apply_duration_seconds", "histogram", "Leader: from propose to applied");
	metrics_hist_render(&t, "shiplog_raft_apply_duration_seconds", "", &r->m.apply_seconds);
	metrics_header(&t, "shiplog_forward_duration_seconds", "histogram",
	               "Follower: from forwarding to the leader to its answer");
	metrics_hist_render(&t, "shiplog_forward_duration_seconds", "", &r->m.forward_seconds);
	metrics_header(&t, "shiplog_forward_apply_wait_seconds", "histogram",
	               "Follower: from the leader's answer to a forwarded write to its apply here");
	metrics_hist_render(&t, "shiplog_forward_apply_wait_seconds", "", &r->m.forward_apply_wait_seconds);
	metrics_header(&t, "shiplog_raft_apply_batch_entries", "histogram", "Entries applied per event loop turn");
	metrics_hist_render(&t, "shiplog_raft_apply_batch_entries", "", &r->m.apply_batch);
	metrics_header(&t, "shiplog_raft_snapshot_duration_seconds", "histogram", "Time to take a snapshot");
	metrics_hist_render(&t, "shiplog_raft_snapshot_duration_seconds", "", &r->fsm.snapshot_seconds);
	gauge(&t, "shiplog_raft_snapshot_in_progress", "1 while a snapshot is being taken", r->fsm.snap != NULL);
	gauge(&t, "shiplog_raft_last_snapshot_duration_seconds", "Time the last snapshot took (0: none yet)",
	      r->fsm.last_snapshot_seconds);
	gauge(&t, "shiplog_raft_last_snapshot_size_bytes", "Size of the last snapshot (LZ4 compressed)",
	      (double)r->fsm.last_snapshot_bytes);
	store_usage(r->store, &map_size, &used);
	gauge(&t, "shiplog_lmdb_map_size_bytes", "LMDB map size", (double)map_size);
	gauge(&t, "shiplog_lmdb_used_bytes", "LMDB pages in use", (double)used);

	struct proto_msg m = {.type = PROTO_MSG_REPLY};
	struct proto_buf b;
	m.u.reply.leader = "";
	m.u.reply.message = "";
	m.u.reply.result = t.p;
	m.u.reply.result_len = t.len;
	if (proto_msg_encode(&m, &b) == PROTO_OK) {
		bus_reply(req, b.data, b.len);
		proto_buf_free(&b);
	}
	metrics_text_free(&t);
}
