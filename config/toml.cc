// The TOML reader behind config.h: toml11 (C++) with a C interface.
// Exceptions never cross into C: every error becomes a message in err.
extern "C" {
#include "config/config.h"
}

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <toml.hpp>

namespace {

struct config_error : std::runtime_error {
	using std::runtime_error::runtime_error;
};

void copy(char *dst, size_t cap, const std::string &s, const char *what)
{
	if (s.size() >= cap) {
		throw config_error(std::string(what) + " is too long (at most " + std::to_string(cap - 1) + " bytes)");
	}
	std::memcpy(dst, s.c_str(), s.size() + 1);
}

char *dup(const std::string &s)
{
	char *p = static_cast<char *>(std::malloc(s.size() + 1));
	if (p == nullptr) {
		throw std::bad_alloc();
	}
	std::memcpy(p, s.c_str(), s.size() + 1);
	return p;
}

// An integer, or a duration string such as "500ms" / "2s".
unsigned duration_ms(const toml::value &table, const char *key, unsigned dflt, long long unit_ms)
{
	if (!table.contains(key)) {
		return dflt;
	}
	const toml::value &v = table.at(key);
	long long ms;
	if (v.is_integer()) {
		ms = v.as_integer() * unit_ms;
	} else if (v.is_string()) {
		ms = cfg_parse_duration_ms(v.as_string().str.c_str(), unit_ms);
	} else {
		throw config_error(toml::format_error(std::string("[error] ") + key + " must be an integer or a duration string", v, "here"));
	}
	if (ms <= 0 || ms > 86400000LL * 30) {
		throw config_error(toml::format_error(std::string("[error] ") + key + " is out of range", v, "here"));
	}
	return static_cast<unsigned>(ms);
}

unsigned count(const toml::value &table, const char *key, unsigned dflt)
{
	if (!table.contains(key)) {
		return dflt;
	}
	auto n = toml::get<long long>(table.at(key));
	if (n < 0 || n > 1000000000LL) {
		throw config_error(toml::format_error(std::string("[error] ") + key + " is out of range", table.at(key), "here"));
	}
	return static_cast<unsigned>(n);
}

// The tables and keys a file may hold; anything else stops the node, so a
// misspelt setting is not silently off. A table of free keys (the clients of
// [auth.client_keys]) has the key list {"*"}.
struct known_table {
	const char *name;
	std::vector<std::string> keys;
};

const std::vector<known_table> cluster_tables = {
	{"cluster", {"name"}},
	{"node", {"id", "name", "region", "raft", "rpc", "http", "data"}},
	{"raft", {"election_timeout_ms", "heartbeat_ms", "snapshot_threshold", "snapshot_trailing", "snapshot_log_mb",
	          "trailing_log_mb"}},
	{"api", {"write_timeout_ms", "max_body_bytes", "max_connections", "max_connections_per_address", "max_waiting",
	         "max_streams", "max_streams_per_credential", "max_ws_message_bytes", "max_page_size",
	         "history_unpaged_max", "cors_origins"}},
	{"store", {"map_size_mb"}},
	{"collector", {"interval", "lease", "timeout", "secret_key", "list_page_size", "max_list_bytes", "max_list_items",
	               "threads"}},
	{"webhooks", {"threads", "max_per_client"}},
	{"k8s_cluster", {"name", "server", "client_name", "env_name", "token_file", "ca_file", "kubeconfig",
	                 "context", "insecure_skip_tls_verify", "interval", "namespaces"}},
	{"alerts", {"ping_warning", "ping_offline", "collection_failures"}},
	{"autopilot", {"max_voters", "remove_unreachable_after", "spread_regions"}},
	{"health", {"leader_silence", "max_apply_lag"}},
	{"retention", {"history_per_component", "history_days", "jobs_keep", "jobs_days", "interval", "batch",
	               "audit_keep", "audit_days"}},
	{"log", {"level", "format"}},
	{"rate_limit", {"anonymous_per_minute", "authenticated_per_minute", "slots"}},
	{"auth", {"admin_keys", "admin_user", "admin_password", "client_keys", "access_token_ttl", "refresh_token_ttl",
	          "key_rotation_overlap", "password_ops", "password_memory_kib", "password_threads", "min_password_length",
	          "last_used_flush"}},
	{"auth.client_keys", {"*"}},
};

const std::vector<known_table> agent_tables = {
	{"agent", {"servers", "api_key", "client_name", "env_name", "kubeconfig", "context", "spool", "namespaces", "interval",
	           "ping_interval", "timeout", "list_page_size", "max_list_bytes", "max_list_items"}},
	{"log", {"level", "format"}},
};

std::string joined(const std::vector<std::string> &v)
{
	std::string out;
	for (const auto &s : v) {
		out += (out.empty() ? "" : ", ") + s;
	}
	return out;
}

const known_table *find_known(const std::vector<known_table> &known, const std::string &name)
{
	for (const auto &k : known) {
		if (name == k.name) {
			return &k;
		}
	}
	return nullptr;
}

// Checks one table (or each table of an array of tables) named path.
void check_table(const std::vector<known_table> &known, const std::string &path, const toml::value &v)
{
	if (v.is_array()) {
		for (const auto &item : v.as_array()) {
			if (!item.is_table()) {
				throw config_error(toml::format_error("[error] [[" + path + "]] must hold tables", item, "here"));
			}
			check_table(known, path, item);
		}
		return;
	}
	const known_table *k = find_known(known, path);
	if (!v.is_table() || k == nullptr || (k->keys.size() == 1 && k->keys[0] == "*")) {
		return;
	}
	for (const auto &kv : v.as_table()) {
		const std::string sub = path + "." + kv.first;
		if (find_known(known, sub) != nullptr) {
			check_table(known, sub, kv.second);
			continue;
		}
		bool ok = false;
		for (const auto &key : k->keys) {
			ok = ok || key == kv.first;
		}
		if (!ok) {
			throw config_error(toml::format_error("[error] unknown key \"" + kv.first + "\" in [" + path +
			                                          "]; known keys: " + joined(k->keys),
			                                      kv.second, "unknown key"));
		}
	}
}

// Refuses tables and keys that are not in known.
void check_known(const toml::value &root, const std::vector<known_table> &known)
{
	std::vector<std::string> tops;
	for (const auto &k : known) {
		if (std::strchr(k.name, '.') == nullptr) {
			tops.push_back(k.name);
		}
	}
	for (const auto &kv : root.as_table()) {
		if (find_known(known, kv.first) == nullptr) {
			throw config_error(toml::format_error("[error] unknown table or key \"" + kv.first +
			                                          "\"; known tables: " + joined(tops),
			                                      kv.second, "unknown"));
		}
		check_table(known, kv.first, kv.second);
	}
}

// The table name of root, or an empty one: its settings then read their
// defaults, each written once, where it is read.
const toml::value &section(const toml::value &root, const char *name)
{
	static const toml::value empty = toml::table{};
	return root.contains(name) ? root.at(name) : empty;
}

void load_lists(const toml::value &t, struct cfg_k8s_lists *l)
{
	l->page_size = count(t, "list_page_size", 500);
	l->max_bytes = count(t, "max_list_bytes", 16u << 20);
	l->max_items = count(t, "max_list_items", 200000);
	if (l->page_size == 0 || l->page_size > 10000 || l->max_bytes < 65536 || l->max_items == 0) {
		throw config_error("list_page_size must be 1-10000, max_list_bytes at least 65536, max_list_items positive");
	}
}

void load_log(const toml::value &root, enum log_level *level, enum log_format *format)
{
	*level = LOG_LEVEL_INFO;
	*format = LOG_FORMAT_TEXT;
	if (!root.contains("log")) {
		return;
	}
	const auto &l = root.at("log");
	if (l.contains("level") && log_level_parse(toml::get<std::string>(l.at("level")).c_str(), level) != 0) {
		throw config_error(toml::format_error("[error] [log] level must be debug, info, warn or error", l.at("level"), "here"));
	}
	if (l.contains("format") && log_format_parse(toml::get<std::string>(l.at("format")).c_str(), format) != 0) {
		throw config_error(toml::format_error("[error] [log] format must be \"text\" or \"json\"", l.at("format"), "here"));
	}
}

void load(const char *path, struct cfg *c)
{
	const toml::value root = toml::parse(path);
	check_known(root, cluster_tables);
	const auto &cluster = toml::find(root, "cluster");
	copy(c->cluster_name, sizeof(c->cluster_name), toml::find<std::string>(cluster, "name"), "cluster.name");

	const auto &nodes = toml::find<std::vector<toml::value>>(root, "node");
	if (nodes.empty() || nodes.size() > CFG_MAX_NODES) {
		throw config_error("[[node]]: between 1 and " + std::to_string(CFG_MAX_NODES) + " tables are needed");
	}
	for (const auto &n : nodes) {
		struct cfg_node *d = &c->nodes[c->n_nodes++];
		long long id = toml::find<long long>(n, "id");
		if (id <= 0) {
			throw config_error(toml::format_error("[error] node id must be positive", n.at("id"), "here"));
		}
		d->id = static_cast<uint64_t>(id);
		copy(d->name, sizeof(d->name), toml::find<std::string>(n, "name"), "node.name");
		copy(d->region, sizeof(d->region), toml::find_or<std::string>(n, "region", "local"), "node.region");
		copy(d->raft, sizeof(d->raft), toml::find<std::string>(n, "raft"), "node.raft");
		copy(d->rpc, sizeof(d->rpc), toml::find<std::string>(n, "rpc"), "node.rpc");
		copy(d->http, sizeof(d->http), toml::find<std::string>(n, "http"), "node.http");
		copy(d->data, sizeof(d->data), toml::find_or<std::string>(n, "data", std::string("data/") + d->name), "node.data");
		for (size_t i = 0; i + 1 < c->n_nodes; i++) {
			if (c->nodes[i].id == d->id || std::strcmp(c->nodes[i].name, d->name) == 0) {
				throw config_error(std::string("[[node]] ") + d->name + ": id and name must be unique");
			}
		}
	}

	c->election_timeout_ms = 300;
	c->heartbeat_ms = 60;
	c->snapshot_threshold = 65536; /* entries are small once compressed: snapshot_log_mb bounds the memory */
	c->snapshot_trailing = 2048;
	c->snapshot_log_mb = 16;
	c->trailing_log_mb = 4;
	c->write_timeout_ms = 2000;
	c->max_body_bytes = 1u << 20;
	c->map_size_mb = 4096;
	c->collector_interval_s = 60;
	c->rate_anonymous = 100;
	c->rate_authenticated = 1000;
	std::strcpy(c->admin_user, "admin");

	if (root.contains("raft")) {
		const auto &r = root.at("raft");
		c->election_timeout_ms = duration_ms(r, "election_timeout_ms", c->election_timeout_ms, 1);
		c->heartbeat_ms = duration_ms(r, "heartbeat_ms", c->heartbeat_ms, 1);
		c->snapshot_threshold = count(r, "snapshot_threshold", c->snapshot_threshold);
		c->snapshot_trailing = count(r, "snapshot_trailing", c->snapshot_trailing);
		c->snapshot_log_mb = count(r, "snapshot_log_mb", c->snapshot_log_mb);
		c->trailing_log_mb = count(r, "trailing_log_mb", c->trailing_log_mb);
		if (c->heartbeat_ms * 2 > c->election_timeout_ms) {
			throw config_error("[raft] heartbeat_ms must be at most half of election_timeout_ms");
		}
	}
	if (root.contains("api")) {
		const auto &a = root.at("api");
		c->write_timeout_ms = duration_ms(a, "write_timeout_ms", c->write_timeout_ms, 1);
		c->max_body_bytes = count(a, "max_body_bytes", static_cast<unsigned>(c->max_body_bytes));
	}
	const toml::value &api = section(root, "api");
	c->max_connections = count(api, "max_connections", 4096);
	c->max_conns_per_addr = count(api, "max_connections_per_address", 1024);
	c->max_waiting = count(api, "max_waiting", 1024);
	c->max_streams = count(api, "max_streams", 1024);
	c->max_streams_per_key = count(api, "max_streams_per_credential", 32);
	c->max_ws_message = count(api, "max_ws_message_bytes", 64u << 10);
	c->max_page_size = count(api, "max_page_size", 1000);
	c->history_unpaged_max = count(api, "history_unpaged_max", 10000);
	auto origins = toml::find_or<std::vector<std::string>>(api, "cors_origins", {"*"});
	c->cors_origins = static_cast<char **>(std::calloc(origins.size() + 1, sizeof(char *)));
	for (const auto &o : origins) {
		if (o.empty() || o.size() >= CFG_ADDR_MAX || (o != "*" && o.find("://") == std::string::npos)) {
			throw config_error("[api] cors_origins: each is \"*\" or an origin such as \"https://dash.example.com\"");
		}
		c->cors_origins[c->n_cors_origins++] = dup(o);
	}
	if (c->max_connections == 0 || c->max_conns_per_addr == 0 || c->max_ws_message < 256 || c->max_page_size == 0 ||
	    c->history_unpaged_max == 0) {
		throw config_error("[api] max_connections, max_connections_per_address, max_page_size and "
		                   "history_unpaged_max must be positive, max_ws_message_bytes at least 256");
	}
	if (root.contains("store")) {
		c->map_size_mb = count(root.at("store"), "map_size_mb", static_cast<unsigned>(c->map_size_mb));
	}
	c->lease_ms = 10000;
	c->k8s_timeout_ms = 10000;
	const toml::value &wh = section(root, "webhooks"), &collector = section(root, "collector");
	c->webhook_threads = count(wh, "threads", 4);
	c->webhooks_per_client = count(wh, "max_per_client", 20);
	c->collector_threads = count(collector, "threads", 4);
	load_lists(collector, &c->lists);
	if (c->webhook_threads == 0 || c->webhook_threads > 64 || c->collector_threads == 0 || c->collector_threads > 64) {
		throw config_error("[webhooks] threads and [collector] threads must be 1-64");
	}
	if (root.contains("collector")) {
		const auto &col = root.at("collector");
		c->collector_interval_s = duration_ms(col, "interval", 60000, 1000) / 1000;
		c->lease_ms = duration_ms(col, "lease", c->lease_ms, 1000);
		c->k8s_timeout_ms = duration_ms(col, "timeout", c->k8s_timeout_ms, 1000);
		copy(c->secret_key, sizeof(c->secret_key), toml::find_or<std::string>(col, "secret_key", ""), "collector.secret_key");
		if (c->collector_interval_s == 0 || c->lease_ms < 500) {
			throw config_error("[collector] interval must be at least 1s and lease at least 500ms");
		}
	}
	if (root.contains("k8s_cluster")) {
		const auto &list = toml::find<std::vector<toml::value>>(root, "k8s_cluster");
		if (list.size() > CFG_MAX_K8S) {
			throw config_error("[[k8s_cluster]]: at most 16 tables");
		}
		for (const auto &t : list) {
			struct cfg_k8s_cluster *k = &c->k8s[c->n_k8s++];
			copy(k->name, sizeof(k->name), toml::find<std::string>(t, "name"), "k8s_cluster.name");
			copy(k->client_name, sizeof(k->client_name), toml::find<std::string>(t, "client_name"), "k8s_cluster.client_name");
			copy(k->env_name, sizeof(k->env_name), toml::find<std::string>(t, "env_name"), "k8s_cluster.env_name");
			copy(k->server, sizeof(k->server), toml::find_or<std::string>(t, "server", ""), "k8s_cluster.server");
			copy(k->token_file, sizeof(k->token_file), toml::find_or<std::string>(t, "token_file", ""), "k8s_cluster.token_file");
			copy(k->ca_file, sizeof(k->ca_file), toml::find_or<std::string>(t, "ca_file", ""), "k8s_cluster.ca_file");
			copy(k->kubeconfig, sizeof(k->kubeconfig), toml::find_or<std::string>(t, "kubeconfig", ""), "k8s_cluster.kubeconfig");
			copy(k->context, sizeof(k->context), toml::find_or<std::string>(t, "context", ""), "k8s_cluster.context");
			k->insecure = toml::find_or<bool>(t, "insecure_skip_tls_verify", false) ? 1 : 0;
			k->interval_s = duration_ms(t, "interval", 1, 1000) / 1000; /* absent: 0, the [collector] interval */
			auto ns = toml::find_or<std::vector<std::string>>(t, "namespaces", {});
			if (ns.size() > 16) {
				throw config_error("[[k8s_cluster]] namespaces: at most 16");
			}
			for (const auto &n : ns) {
				copy(k->namespaces[k->n_namespaces++], CFG_NAME_MAX, n, "k8s_cluster.namespaces");
			}
			if (k->server[0] == '\0' && k->kubeconfig[0] == '\0') {
				throw config_error(std::string("[[k8s_cluster]] ") + k->name + ": server or kubeconfig is required");
			}
		}
	}
	c->ping_warning_ms = 10 * 60 * 1000;
	c->ping_offline_ms = 15 * 60 * 1000;
	c->collect_failures = 3;
	if (root.contains("alerts")) {
		const auto &al = root.at("alerts");
		c->ping_warning_ms = duration_ms(al, "ping_warning", c->ping_warning_ms, 1000);
		c->ping_offline_ms = duration_ms(al, "ping_offline", c->ping_offline_ms, 1000);
		c->collect_failures = count(al, "collection_failures", c->collect_failures);
	}
	if (root.contains("autopilot")) {
		const auto &ap = root.at("autopilot");
		c->max_voters = count(ap, "max_voters", 0);
		if (ap.contains("remove_unreachable_after")) {
			c->remove_unreachable_ms = duration_ms(ap, "remove_unreachable_after", 0, 1000);
		}
		c->spread_regions = c->max_voters > 0; // on by default once voters are capped
		if (ap.contains("spread_regions")) {
			c->spread_regions = toml::get<bool>(ap.at("spread_regions")) ? 1 : 0;
			if (c->spread_regions && c->max_voters == 0) {
				throw config_error(toml::format_error("[error] spread_regions needs max_voters > 0", ap.at("spread_regions"), "here"));
			}
		}
	}
	struct cfg_retention *rt = &c->retention;
	const toml::value &rtv = section(root, "retention");
	rt->history_per_component = count(rtv, "history_per_component", 0);
	rt->history_days = count(rtv, "history_days", 0);
	rt->jobs_keep = count(rtv, "jobs_keep", 10000);
	rt->jobs_days = count(rtv, "jobs_days", 30);
	rt->interval_ms = duration_ms(rtv, "interval", 60000, 1000);
	rt->batch = count(rtv, "batch", 5000);
	rt->audit_keep = count(rtv, "audit_keep", 1000000);
	rt->audit_days = count(rtv, "audit_days", 365);
	if (rt->batch == 0 || rt->interval_ms < 1000) {
		throw config_error("[retention] batch must be positive and interval at least 1s");
	}
	const toml::value &health = section(root, "health");
	c->ready_leader_silence_ms = duration_ms(health, "leader_silence", 2 * c->election_timeout_ms, 1);
	c->ready_max_apply_lag = count(health, "max_apply_lag", 1000);
	load_log(root, &c->log_level, &c->log_format);
	if (root.contains("rate_limit")) {
		const auto &rl = root.at("rate_limit");
		c->rate_anonymous = count(rl, "anonymous_per_minute", c->rate_anonymous);
		c->rate_authenticated = count(rl, "authenticated_per_minute", c->rate_authenticated);
	}
	c->rate_slots = count(section(root, "rate_limit"), "slots", 4096);
	if (c->rate_slots < 64) {
		throw config_error("[rate_limit] slots must be at least 64");
	}
	const toml::value &au = section(root, "auth");
	struct cfg_identity *id = &c->identity;
	id->access_ttl_ms = duration_ms(au, "access_token_ttl", 30 * 60000, 1000);
	id->refresh_ttl_ms = duration_ms(au, "refresh_token_ttl", 7 * 86400000u, 1000);
	id->key_overlap_ms = duration_ms(au, "key_rotation_overlap", 3600000, 1000);
	id->password_ops = count(au, "password_ops", 2);
	id->password_memory_kib = count(au, "password_memory_kib", 65536);
	id->password_threads = count(au, "password_threads", 2);
	id->min_password = count(au, "min_password_length", 8);
	id->key_use_flush_ms = duration_ms(au, "last_used_flush", 30000, 1000);
	if (id->password_ops < 1 || id->password_memory_kib < 8 || id->password_threads < 1) {
		throw config_error("[auth] password_ops, password_memory_kib (at least 8) and password_threads must be positive");
	}
	if (root.contains("auth")) {
		const auto &auth = root.at("auth");
		auto admin = toml::find_or<std::vector<std::string>>(auth, "admin_keys", {});
		c->admin_keys = static_cast<char **>(std::calloc(admin.size() + 1, sizeof(char *)));
		for (const auto &k : admin) {
			if (k.empty()) {
				throw config_error("[auth] admin_keys: empty key");
			}
			c->admin_keys[c->n_admin_keys++] = dup(k);
		}
		copy(c->admin_user, sizeof(c->admin_user), toml::find_or<std::string>(auth, "admin_user", "admin"), "auth.admin_user");
		copy(c->admin_password, sizeof(c->admin_password), toml::find_or<std::string>(auth, "admin_password", ""), "auth.admin_password");
		if (auth.contains("client_keys")) {
			const auto &ck = toml::find<toml::table>(auth, "client_keys");
			size_t total = 0;
			for (const auto &kv : ck) {
				total += toml::get<std::vector<std::string>>(kv.second).size();
			}
			c->client_keys = static_cast<struct cfg_client_key *>(std::calloc(total + 1, sizeof(struct cfg_client_key)));
			for (const auto &kv : ck) {
				for (const auto &k : toml::get<std::vector<std::string>>(kv.second)) {
					if (k.empty()) {
						throw config_error("[auth.client_keys] " + kv.first + ": empty key");
					}
					struct cfg_client_key *e = &c->client_keys[c->n_client_keys++];
					e->client = dup(kv.first);
					e->key = dup(k);
				}
			}
		}
	}
}

void load_agent(const char *path, struct cfg_agent *a)
{
	const toml::value root = toml::parse(path);
	check_known(root, agent_tables);
	load_log(root, &a->log_level, &a->log_format);
	const auto &t = toml::find(root, "agent");
	auto servers = toml::find<std::vector<std::string>>(t, "servers");
	if (servers.empty() || servers.size() > 8) {
		throw config_error("[agent] servers: between 1 and 8 URLs of shiplog nodes");
	}
	for (const auto &u : servers) {
		copy(a->servers[a->n_servers++], CFG_ADDR_MAX, u, "agent.servers");
	}
	copy(a->api_key, sizeof(a->api_key), toml::find<std::string>(t, "api_key"), "agent.api_key");
	copy(a->client_name, sizeof(a->client_name), toml::find<std::string>(t, "client_name"), "agent.client_name");
	copy(a->env_name, sizeof(a->env_name), toml::find<std::string>(t, "env_name"), "agent.env_name");
	copy(a->kubeconfig, sizeof(a->kubeconfig), toml::find_or<std::string>(t, "kubeconfig", ""), "agent.kubeconfig");
	copy(a->context, sizeof(a->context), toml::find_or<std::string>(t, "context", ""), "agent.context");
	copy(a->spool, sizeof(a->spool), toml::find_or<std::string>(t, "spool", "data/agent-spool"), "agent.spool");
	auto ns = toml::find_or<std::vector<std::string>>(t, "namespaces", {});
	if (ns.size() > 64) {
		throw config_error("[agent] namespaces: at most 64");
	}
	for (const auto &n : ns) {
		copy(a->namespaces[a->n_namespaces++], CFG_NAME_MAX, n, "agent.namespaces");
	}
	a->interval_s = duration_ms(t, "interval", 60000, 1000) / 1000;
	a->ping_interval_s = duration_ms(t, "ping_interval", 60000, 1000) / 1000;
	a->timeout_ms = duration_ms(t, "timeout", 10000, 1000);
	load_lists(t, &a->lists);
	if (a->interval_s == 0 || a->ping_interval_s == 0) {
		throw config_error("[agent] interval and ping_interval must be at least 1s");
	}
}

} // namespace

extern "C" int cfg_load_agent(const char *path, struct cfg_agent *out, char *err, size_t errlen)
{
	std::memset(out, 0, sizeof(*out));
	try {
		load_agent(path, out);
		return 0;
	} catch (const std::exception &e) {
		std::snprintf(err, errlen, "%s: %s", path, e.what());
	}
	return -1;
}

extern "C" int cfg_load(const char *path, struct cfg *out, char *err, size_t errlen)
{
	std::memset(out, 0, sizeof(*out));
	try {
		load(path, out);
		return 0;
	} catch (const std::exception &e) {
		std::snprintf(err, errlen, "%s: %s", path, e.what());
	}
	cfg_free(out);
	return -1;
}

extern "C" void cfg_free(struct cfg *c)
{
	for (size_t i = 0; i < c->n_admin_keys; i++) {
		std::free(c->admin_keys[i]);
	}
	std::free(c->admin_keys);
	for (size_t i = 0; i < c->n_client_keys; i++) {
		std::free(c->client_keys[i].client);
		std::free(c->client_keys[i].key);
	}
	std::free(c->client_keys);
	for (size_t i = 0; i < c->n_cors_origins; i++) {
		std::free(c->cors_origins[i]);
	}
	std::free(c->cors_origins);
	c->cors_origins = nullptr;
	c->n_cors_origins = 0;
	c->admin_keys = nullptr;
	c->client_keys = nullptr;
	c->n_admin_keys = c->n_client_keys = 0;
}
