/* holds.c -- soft holds on slots, kept in memory (see holds.h). */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "conn.h"
#include "holds.h"
#include "mp.h"
#include "server.h"
#include "session.h"
#include "util.h"

static TAILQ_HEAD(, hold)	holds = TAILQ_HEAD_INITIALIZER(holds);
static struct event		*holds_timer;

static void	holds_expire(void);
static void	holds_arm(void);
static void	holds_timer_cb(evutil_socket_t, short, void *);
static int	holds_push_wants(const struct session *, void *);
static void	holds_push(const char *, const struct hold *);

/* Every desk and the slot's own doctor see who holds what. */
static int
holds_push_wants(const struct session *s, void *arg)
{
	const struct hold	*h = arg;

	if (s->role == ROLE_ADMIN || s->role == ROLE_RECEPTIONIST)
		return 1;
	return s->role == ROLE_DOCTOR && s->user_id == h->doctor_user_id;
}

static void
holds_push(const char *event, const struct hold *h)
{
	msgpack_sbuffer	sb;
	msgpack_packer	pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	holds_pack(&pk, h);
	conn_push_event(event, sb.data, sb.size, holds_push_wants, (void *)h);
	msgpack_sbuffer_destroy(&sb);
}

void
holds_pack(msgpack_packer *pk, const struct hold *h)
{
	msgpack_pack_map(pk, 6);
	mp_pack_kv_int(pk, "doctor_id", h->doctor_id);
	mp_pack_kv_int(pk, "starts_at", h->starts_at);
	mp_pack_kv_int(pk, "ends_at", h->ends_at);
	mp_pack_kv_int(pk, "holder_user_id", h->holder_user_id);
	mp_pack_kv_str(pk, "holder_name", h->holder_name);
	mp_pack_kv_int(pk, "expires_at", h->expires_at);
}

/* Ends holds past their time (by clock_now, so test.clock moves them) and
 * holds whose connection dropped. */
static void
holds_expire(void)
{
	struct hold	*h, *next;
	int64_t		 now = clock_now();

	for (h = TAILQ_FIRST(&holds); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (h->conn_id == 0 || h->expires_at <= now)
			holds_release(h);
	}
}

/* One timer, due at the earliest end. */
static void
holds_arm(void)
{
	struct timeval	 tv = { 0, 0 };
	struct hold	*h;
	int64_t		 first = INT64_MAX, now = clock_now();

	if (holds_timer == NULL)
		holds_timer = evtimer_new(server.base, holds_timer_cb, NULL);
	if (TAILQ_EMPTY(&holds)) {
		evtimer_del(holds_timer);
		return;
	}
	TAILQ_FOREACH(h, &holds, entry) {
		int64_t	due = h->conn_id == 0 ? now : h->expires_at;

		if (due < first)
			first = due;
	}
	tv.tv_sec = first > now ? (time_t)(first - now) : 0;
	evtimer_add(holds_timer, &tv);
}

static void
holds_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	holds_expire();
	holds_arm();
}

const struct hold *
holds_find(int64_t doctor_id, int64_t from, int64_t to, uint64_t except_conn)
{
	struct hold	*h;

	holds_expire();
	TAILQ_FOREACH(h, &holds, entry) {
		if (h->doctor_id == doctor_id && h->starts_at < to &&
		    h->ends_at > from && h->conn_id != except_conn)
			return h;
	}
	return NULL;
}

struct hold *
holds_mine(uint64_t conn_id, int64_t doctor_id, int64_t starts_at)
{
	struct hold	*h;

	holds_expire();
	TAILQ_FOREACH(h, &holds, entry) {
		if (h->conn_id == conn_id && h->doctor_id == doctor_id &&
		    h->starts_at == starts_at)
			return h;
	}
	return NULL;
}

int
holds_count(uint64_t conn_id)
{
	struct hold	*h;
	int		 n = 0;

	holds_expire();
	TAILQ_FOREACH(h, &holds, entry) {
		if (h->conn_id == conn_id)
			n++;
	}
	return n;
}

const struct hold *
holds_take(uint64_t conn_id, int64_t doctor_id, int64_t doctor_user_id,
    int64_t starts_at, int64_t ends_at, int64_t holder_user_id,
    const char *holder_name)
{
	struct hold	*h;

	if ((h = holds_mine(conn_id, doctor_id, starts_at)) == NULL) {
		h = xcalloc(1, sizeof *h);
		h->conn_id = conn_id;
		h->doctor_id = doctor_id;
		h->starts_at = starts_at;
		TAILQ_INSERT_TAIL(&holds, h, entry);
	}
	h->doctor_user_id = doctor_user_id;
	h->ends_at = ends_at;
	h->holder_user_id = holder_user_id;
	strlcpy_mf(h->holder_name, holder_name, sizeof h->holder_name);
	h->expires_at = clock_now() + HOLD_SECONDS;
	holds_arm();
	holds_push("appt.held", h);
	return h;
}

void
holds_release(struct hold *h)
{
	TAILQ_REMOVE(&holds, h, entry);
	holds_push("appt.released", h);
	free(h);
	holds_arm();
}

void
holds_conn_dropped(uint64_t conn_id)
{
	struct hold	*h;
	int		 any = 0;

	/* conn_drop may run inside a push loop: announce from the timer. */
	TAILQ_FOREACH(h, &holds, entry) {
		if (h->conn_id == conn_id) {
			h->conn_id = 0;
			any = 1;
		}
	}
	if (any && server.base != NULL && !server.draining)
		holds_arm();
}

void
holds_conn_logout(uint64_t conn_id)
{
	struct hold	*h, *next;

	for (h = TAILQ_FIRST(&holds); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (h->conn_id == conn_id)
			holds_release(h);
	}
}

void
holds_shutdown(void)
{
	struct hold	*h;

	while ((h = TAILQ_FIRST(&holds)) != NULL) {
		TAILQ_REMOVE(&holds, h, entry);
		free(h);
	}
	if (holds_timer != NULL) {
		event_free(holds_timer);
		holds_timer = NULL;
	}
}
