/* test_secure_batch.c -- the secure channel under group commit: a batch's
 * replies and events leave sealed several frames to a record, straight to
 * the socket while the kernel takes them and through the output buffer
 * when it does not. Whatever the path, an encrypted reader gets every frame
 * whole, once, and in the order the server made them: also one that lags
 * far behind (far more than its socket holds), and with its own replies
 * among the events. */
#include <sys/socket.h>
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "channel.h"
#include "frame.h"
#include "harness.h"
#include "json.h"
#include "mp.h"
#include "proto.h"
#include "util.h"

#define SENDER_MESSAGES	500	/* from the sender to the lagging reader */
#define BURST		50	/* requests in one write: one batch */
#define IN_FLIGHT	50	/* the burst test's requests in flight */
#define FIRST_ID	100000	/* the sender's request ids from here on */
#define BODY_CHARS	4000	/* CHAT_BODY_MAX */
#define BODY_BYTES	(3 * BODY_CHARS)

static struct tsrv	srv;
static char		home[256];
static char		known[PATH_MAX];

static int
group_setup(void **state)
{
	static const struct tsrv_opts	opts = {
		/* The test is about bytes, not the rate limiter. */
		.config = "rl_msg = 100000000/1s\nrl_api = 100000000/1s\n"
		    "rl_api_staff = 100000000/1s\n"
		    "out_high_water = 67108864\n",
	};
	const char	*tmp = getenv("TMPDIR");

	(void)state;
	snprintf(home, sizeof home, "%s/mediflow-home-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(home) == NULL)
		return -1;
	snprintf(known, sizeof known, "%s/known_servers", home);
	srv_start(&srv, &opts);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	srv_stop(&srv);
	rm_tree(home);
	return 0;
}

/* Opens an encrypted connection (trusting the key on first use) and logs in. */
static void
sec_open_as(struct tcli *c, const char *email)
{
	struct mfc_trust	 t;
	char			*cause = NULL;

	memset(&t, 0, sizeof t);
	t.known_servers = known;
	t.trust_new = 1;
	t.timeout_ms = CALL_TIMEOUT_MS;
	c->reply = NULL;
	if (mfc_connect_secure(&c->mc, srv.addr, &t, &cause) != MFC_OK) {
		print_error("secure connect %s: %s\n", srv.addr, cause);
		free(cause);
		fail();
	}
	assert_non_null(c->mc.chan);
	call_ok(c, "hello", "{s:i}", "version", PROTO_VERSION);
	free(cli_login(c, email, DEMO_PASSWORD));
}

/*
 * Message n's body: its number, then one three-byte character of its own
 * (U+4E00 on) to CHAT_BODY_MAX characters, about 12 KB: the 500 messages
 * to the lagging reader are more than the kernel queues for a socket
 * (tcp_wmem's 4 MiB at most, and the reader's window).
 */
static void
message_body(char *out, const char *who, int n)
{
	int	len, chars, i;

	len = snprintf(out, BODY_BYTES + 1, "%s message %05d ", who, n);
	chars = len;
	for (i = len; chars < BODY_CHARS; chars++) {
		out[i++] = (char)0xe4;
		out[i++] = (char)0xb8;
		out[i++] = (char)(0x80 + n % 64);
	}
	out[i] = '\0';
}

/* Queues a chat.send of who's message n without waiting; returns its id. */
static uint64_t
send_message(struct tcli *c, int64_t conv, const char *who, int n)
{
	msgpack_sbuffer	 args;
	msgpack_packer	 pk;
	char		 body[BODY_BYTES + 1], cid[48];
	uint64_t	 rid;

	message_body(body, who, n);
	snprintf(cid, sizeof cid, "%s-%d-%d", who, (int)getpid(), n);
	msgpack_sbuffer_init(&args);
	msgpack_packer_init(&pk, &args, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "conversation_id");
	msgpack_pack_int64(&pk, conv);
	mp_pack_kv_str(&pk, "body", body);
	mp_pack_kv_str(&pk, "client_msg_id", cid);
	assert_int_equal(mfc_send(&c->mc, "chat.send", args.data, args.size,
	    &rid), 0);
	msgpack_sbuffer_destroy(&args);
	return rid;
}

/* Appends a chat.send request frame (header and body) for message n. */
static void
pack_send_frame(msgpack_sbuffer *out, uint64_t id, int64_t conv,
    const char *who, int n)
{
	msgpack_sbuffer	 body;
	msgpack_packer	 pk;
	char		 text[BODY_BYTES + 1], cid[48];

	message_body(text, who, n);
	snprintf(cid, sizeof cid, "%s-%d-%d", who, (int)getpid(), n);
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "id");
	msgpack_pack_uint64(&pk, id);
	mp_pack_kv_str(&pk, "op", "chat.send");
	mp_pack_str(&pk, "args");
	msgpack_pack_map(&pk, 3);
	mp_pack_str(&pk, "conversation_id");
	msgpack_pack_int64(&pk, conv);
	mp_pack_kv_str(&pk, "body", text);
	mp_pack_kv_str(&pk, "client_msg_id", cid);
	frame_wrap(out, body.data, body.size);
	msgpack_sbuffer_destroy(&body);
}

/* The reply's ok flag, or the failing reply printed and the test failed. */
static void
assert_reply_ok(const msgpack_object *o)
{
	const msgpack_object	*ok = mp_map_get(o, "ok");
	json_t			*j;
	char			*s;

	if (ok != NULL && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean)
		return;
	j = msgpack_to_json(o);
	s = json_dumps(j, JSON_COMPACT);
	print_error("request failed: %s\n", s);
	free(s);
	json_decref(j);
	fail();
}

/*
 * A desk that stops reading, on a small receive window, while a colleague
 * sends it 500 messages of about 12 KB, 50 in one write so that each batch
 * carries 600 KB for the desk (records of 64 KiB cutting across frames, a
 * few records to a send). The 6 MB are more than the kernel holds for it,
 * so the server falls back to the output buffer mid-batch and seals the
 * rest there. The desk itself sends a message of its own with each burst
 * (its reply and its event among the others). When it reads at last,
 * every event and reply is there, whole, once, in order, and the
 * connection still works.
 */
static void
test_lagging_encrypted_reader_gets_every_frame_whole_and_in_order(void **state)
{
	struct tcli		 sender, reader;
	const msgpack_object	*o, *id, *ev, *data;
	msgpack_sbuffer		 burst;
	char			 body[BODY_BYTES + 1];
	int64_t			 conv, reader_id, sender_id;
	uint64_t		 reader_rids[SENDER_MESSAGES / BURST];
	int			 i, sent = 0, acked = 0, rsent = 0, rreplies = 0;
	int			 from_sender = 0, from_reader = 0, rcvbuf = 65536;
	json_t			*j;

	(void)state;
	sec_open_as(&reader, DEMO_RECEPTION);
	reader_id = jint(call_ok(&reader, "auth.me", NULL), "user.id");
	assert_true(reader_id > 0);
	sec_open_as(&sender, DEMO_ADMIN);
	sender_id = jint(call_ok(&sender, "auth.me", NULL), "user.id");
	conv = jint(call_ok(&sender, "chat.open", "{s:I}", "user_id",
	    (json_int_t)reader_id), "conversation.id");
	assert_true(conv > 0);
	/* From here on the reader only writes, through a narrow window. */
	assert_int_equal(setsockopt(reader.mc.fd, SOL_SOCKET, SO_RCVBUF,
	    &rcvbuf, sizeof rcvbuf), 0);

	msgpack_sbuffer_init(&burst);
	while (sent < SENDER_MESSAGES) {
		msgpack_sbuffer_clear(&burst);
		for (i = 0; i < BURST; i++, sent++)
			pack_send_frame(&burst, FIRST_ID + (uint64_t)sent, conv,
			    "sender", sent);
		assert_int_equal(mfc_write(&sender.mc, burst.data, burst.size), 0);
		reader_rids[rsent] = send_message(&reader, conv, "reader", rsent);
		rsent++;
		/* The sender reads its replies, in order, and its own events. */
		while (acked < sent) {
			assert_int_equal(mfc_read(&sender.mc, CALL_TIMEOUT_MS,
			    &o), 0);
			if ((id = mp_map_get(o, "id")) == NULL)
				continue;
			assert_reply_ok(o);
			assert_int_equal(id->via.u64, FIRST_ID + (uint64_t)acked);
			acked++;
		}
	}
	msgpack_sbuffer_destroy(&burst);

	/* Now the reader reads it all. */
	while (from_sender < SENDER_MESSAGES || from_reader < rsent ||
	    rreplies < rsent) {
		assert_int_equal(mfc_read(&reader.mc, CALL_TIMEOUT_MS, &o), 0);
		if ((id = mp_map_get(o, "id")) != NULL) {
			/* Its own replies, in the order it asked. */
			assert_reply_ok(o);
			assert_true(rreplies < rsent);
			assert_int_equal(id->via.u64, reader_rids[rreplies]);
			rreplies++;
			continue;
		}
		ev = mp_map_get(o, "event");
		assert_non_null(ev);
		if (ev->type != MSGPACK_OBJECT_STR || ev->via.str.size != 12 ||
		    memcmp(ev->via.str.ptr, "chat.message", 12) != 0)
			continue;	/* presence and the like */
		data = mp_map_get(o, "data");
		assert_non_null(data);
		j = msgpack_to_json(data);
		if (jint(j, "sender_id") == sender_id) {
			assert_true(from_sender < SENDER_MESSAGES);
			message_body(body, "sender", from_sender);
			assert_jstr(j, "body", body);
			from_sender++;
		} else {
			assert_int_equal(jint(j, "sender_id"), reader_id);
			assert_true(from_reader < rsent);
			message_body(body, "reader", from_reader);
			assert_jstr(j, "body", body);
			from_reader++;
		}
		json_decref(j);
	}
	/* Nothing left over and nothing out of step: the next call answers. */
	assert_jstr(call_ok(&reader, "health", NULL), "status", "ok");
	assert_jstr(call_ok(&sender, "health", NULL), "status", "ok");
	cli_close(&reader);
	cli_close(&sender);
}

/*
 * Two encrypted terminals of one user and a plain one, all reading: each
 * hears every message of a pipelined burst, in order, the encrypted ones
 * through the sealed batch path, the plain one through the plain path.
 */
static void
test_encrypted_and_plain_terminals_hear_the_same_burst(void **state)
{
	struct tcli		 sender, t[3];
	const msgpack_object	*o, *ev, *data;
	char			 body[BODY_BYTES + 1];
	int64_t			 conv, desk_id;
	int			 i, n, sent = 0, acked = 0, heard;
	json_t			*j;

	(void)state;
	sec_open_as(&t[0], DEMO_RECEPTION);
	sec_open_as(&t[1], DEMO_RECEPTION);
	cli_open_as(&t[2], &srv, DEMO_RECEPTION);
	desk_id = jint(call_ok(&t[0], "auth.me", NULL), "user.id");
	sec_open_as(&sender, DEMO_DOCTOR);
	conv = jint(call_ok(&sender, "chat.open", "{s:I}", "user_id",
	    (json_int_t)desk_id), "conversation.id");
	assert_true(conv > 0);
	n = 60;
	while (acked < n) {
		while (sent < n && sent - acked < IN_FLIGHT)
			send_message(&sender, conv, "burst", sent++);
		assert_int_equal(mfc_read(&sender.mc, CALL_TIMEOUT_MS, &o), 0);
		if (mp_map_get(o, "id") == NULL)
			continue;
		assert_reply_ok(o);
		acked++;
	}
	for (i = 0; i < 3; i++) {
		heard = 0;
		while (heard < n) {
			assert_int_equal(mfc_read(&t[i].mc, CALL_TIMEOUT_MS, &o), 0);
			assert_null(mp_map_get(o, "id"));
			ev = mp_map_get(o, "event");
			assert_non_null(ev);
			if (ev->type != MSGPACK_OBJECT_STR ||
			    ev->via.str.size != 12 ||
			    memcmp(ev->via.str.ptr, "chat.message", 12) != 0)
				continue;
			data = mp_map_get(o, "data");
			assert_non_null(data);
			j = msgpack_to_json(data);
			message_body(body, "burst", heard);
			assert_jstr(j, "body", body);
			json_decref(j);
			heard++;
		}
		assert_jstr(call_ok(&t[i], "health", NULL), "status", "ok");
		cli_close(&t[i]);
	}
	cli_close(&sender);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lagging_encrypted_reader_gets_every_frame_whole_and_in_order),
		cmocka_unit_test(test_encrypted_and_plain_terminals_hear_the_same_burst),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
