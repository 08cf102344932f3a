/* The golden wire-bytes tests' helpers (test_protocol_golden*.c): hex
 * against bytes with a readable diff, field comparisons of decoded values,
 * what a case allocates (freed by its teardown even when an assertion
 * fails), the goldens two files share, and one cmocka test per case. */
#ifndef SHIPLOG_TESTS_UNIT_LIB_GOLDEN_H
#define SHIPLOG_TESTS_UNIT_LIB_GOLDEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/proto.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define GOLDEN_MAX_CASES 128

/* Parses hex digits (whitespace ignored) into a malloc'd buffer (never NULL). */
unsigned char *hex_decode(const char *hex, size_t *len);
/* Compares got with the golden hex; on a difference prints the first
 * differing offset, both sides around it, and got as a C literal. */
bool bytes_match_hex(const char *what, const void *got, size_t got_len, const char *hex);
#define assert_bytes_hex(what, data, len, hex) assert_true(bytes_match_hex((what), (data), (len), (hex)))

/* Fails the test unless got equals want (NULL want reads as ""). */
void str_eq(const char *want, const char *got, const char *field);
#define assert_str_eq(want, got) str_eq((want), (got), #got)
void assert_strs_eq(const char *const *want, uint32_t n_want, const char *const *got, uint32_t n_got);

/* What the running case allocated. */
struct golden_held {
	struct proto_buf enc;       /* the encoder's output */
	unsigned char *golden;      /* the golden bytes */
	size_t golden_len;
	unsigned char *payload[4];  /* bytes a message or batch carries */
	struct proto_cmd cmd;       /* decoded from the golden bytes */
	struct proto_msg msg;
	struct proto_batch batch;
};
extern struct golden_held held;
/* Frees held (a cmocka teardown). */
int release_held(void **state);

/* Registers case k (run by f, named "kind name"); golden_run runs them all. */
void golden_add(const char *kind, const char *name, void (*f)(void **state), const void *k);
int golden_run(void);

/* Goldens used twice: as a case, and carried inside a PROPOSE, a REPLY or a batch. */

#define GOLDEN_CMD_NOOP \
	"950101cf0000018bcfe56801b270726f62653a6e6f64652d65752d313a3137c0"
#define GOLDEN_CMD_OBSERVE \
	"950102cf0000018bcfe56802ab6f62733a61636d653a3432929ba961636d652d" \
	"70726f64aa70726f64756374696f6ea87061796d656e7473aa4465706c6f796d" \
	"656e74ac636865636b6f75742d617069a3617070b972656769737472792e6163" \
	"6d652e696f2f7061796d656e7473ac636865636b6f75742d617069a776322e31" \
	"342e33d9477368613235363a3966383664303831383834633764363539613266" \
	"6561613063353561643031356133626634663162326230623832326364313564" \
	"366331356230663030613038cf0000018bcfe5687b9ba961636d652d70726f64" \
	"a773746167696e67ab6b7562652d73797374656da94461656d6f6e536574ad6e" \
	"6f64652d6578706f72746572a86578706f72746572b2717561792e696f2f7072" \
	"6f6d657468657573ad6e6f64652d6578706f72746572a5312e372e30d9477368" \
	"613235363a326332366234366236386666633638666639396234353363316433" \
	"3034313334313334323264373036343833626661306639386135653838363236" \
	"3665376165cf0000018bcfec60550000"
#define GOLDEN_CMD_PING \
	"950103cf0000018bcfe56803b670696e673a61636d653a70726f64756374696f" \
	"6e3a3994a461636d65aa70726f64756374696f6eb3736869706c6f672d616765" \
	"6e742f312e342e32cf0000018bcfe56b0900000000000000"
#define GOLDEN_RESULT \
	"96010dcf000000123456789a01030400"
#define GOLDEN_MSG_REPLY_EMPTY \
	"970103002aa0a0c40000000000000000"

#endif
