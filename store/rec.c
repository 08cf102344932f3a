#include "store/rec.h"

#include <string.h>

void rec_init(struct rec_writer *w)
{
	w->len = 0;
	w->overflow = false;
}

static void put(struct rec_writer *w, const void *p, size_t n)
{
	if (w->overflow || n > sizeof(w->buf) - w->len) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void rec_put_u64(struct rec_writer *w, uint64_t v)
{
	put(w, &v, sizeof(v));
}

void rec_put_i64(struct rec_writer *w, int64_t v)
{
	put(w, &v, sizeof(v));
}

void rec_put_str(struct rec_writer *w, const char *s)
{
	size_t n = strlen(s);
	uint16_t n16 = (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n);
	if (n > UINT16_MAX) {
		w->overflow = true;
		return;
	}
	put(w, &n16, sizeof(n16));
	put(w, s, n);
}

void rec_put_keypart(struct rec_writer *w, const char *s)
{
	put(w, s, strlen(s) + 1);
}

void rec_put_keypart_n(struct rec_writer *w, const void *p, size_t n)
{
	put(w, p, n);
	put(w, "", 1);
}

void rec_put_be64(struct rec_writer *w, uint64_t v)
{
	unsigned char b[8];
	for (int i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	put(w, b, sizeof(b));
}

uint64_t rec_be64(const void *p)
{
	const unsigned char *b = p;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		v = (v << 8) | b[i];
	}
	return v;
}

void rec_reader_init(struct rec_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->bad = false;
}

static bool take(struct rec_reader *r, void *out, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		return false;
	}
	memcpy(out, r->p + r->off, n);
	r->off += n;
	return true;
}

uint64_t rec_get_u64(struct rec_reader *r)
{
	uint64_t v = 0;
	take(r, &v, sizeof(v));
	return v;
}

int64_t rec_get_i64(struct rec_reader *r)
{
	int64_t v = 0;
	take(r, &v, sizeof(v));
	return v;
}

void rec_get_str(struct rec_reader *r, char *out, size_t cap)
{
	uint16_t n = 0;
	out[0] = '\0';
	if (!take(r, &n, sizeof(n))) {
		return;
	}
	if ((size_t)n + 1 > cap) {
		r->bad = true;
		return;
	}
	if (take(r, out, n)) {
		out[n] = '\0';
	}
}

void rec_put_bytes(struct rec_writer *w, const void *p, size_t n)
{
	uint32_t n32 = (uint32_t)n;
	if (n > UINT32_MAX) {
		w->overflow = true;
		return;
	}
	put(w, &n32, sizeof(n32));
	put(w, p, n);
}

void rec_get_bytes(struct rec_reader *r, const void **p, size_t *n)
{
	uint32_t n32 = 0;
	*p = NULL;
	*n = 0;
	if (!take(r, &n32, sizeof(n32)) || n32 > r->len - r->off) {
		r->bad = true;
		return;
	}
	*p = r->p + r->off;
	*n = n32;
	r->off += n32;
}
