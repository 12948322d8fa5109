/* test_chat.c -- chat against a real mediflowd with two and three clients:
 * who may talk to whom, order of messages, read receipts, typing, presence,
 * unread counts, idempotent resends, catch-up after a reconnect, the message
 * rate limit and bad input.
 *
 * The demo clinic: John Smith saw Dr. Chen and Dr. Okafor, never Dr. Raman. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clinic.h"
#include "harness.h"
#include "json.h"
#include "mp.h"
#include "util.h"

#define EVENT_WAIT_MS	(5000 * test_time_scale())

static const struct tsrv_opts srv_opts = {
	.config = "rl_api = 100000/15m\nrl_api_staff = 100000/15m\n"
	    "rl_msg = 100000/1m\n",
};

/* The demo logins these tests use (clinic.h). */
static struct account *const chatters[] = { &desk, &chen, &okafor, &raman,
    &john, &emily, NULL };

static int	msg_seq;

/* --- connections and events --- */

/* Waits for presence {user_id, online}; asserts. */
static void
expect_presence(struct tcli *c, int64_t user_id, int online)
{
	json_t	*ev;

	for (;;) {
		ev = read_event(c, "presence", EVENT_WAIT_MS);
		assert_non_null(ev);
		if (jint(ev, "data.user_id") == user_id &&
		    json_is_true(jpath(ev, "data.online")) == online) {
			assert_true(jint(ev, "data.last_seen") > 0);
			json_decref(ev);
			return;
		}
		json_decref(ev);
	}
}

static int64_t
open_conv(struct tcli *c, const struct account *peer)
{
	return jint(call_ok(c, "chat.open", "{s:I}", "user_id",
	    (json_int_t)peer->user_id), "conversation.id");
}

/* Sends body; returns the message id. */
static int64_t
send_msg(struct tcli *c, int64_t conv, const char *body)
{
	char	cid[32];

	snprintf(cid, sizeof cid, "m-%d", ++msg_seq);
	return jint(call_ok(c, "chat.send", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)conv, "body", body, "client_msg_id", cid), "message.id");
}

static int64_t
unread_total(struct tcli *c)
{
	return jint(call_ok(c, "chat.unread", NULL), "unread");
}

/* ================================================================== */

/*
 * Presence also reaches the connected users who have the user among their
 * contacts, with no conversation yet (a picker of whom to write to shows the
 * mark): a patient hears their own doctor and never a doctor they never saw;
 * staff hear staff. First: no conversation exists yet.
 */
static void
test_presence_reaches_contacts_without_a_conversation(void **state)
{
	struct tcli	 p, s, d, r;
	json_t		*ev;

	(void)state;
	open_as(&p, &john);
	open_as(&s, &desk);
	/* John never saw Dr. Raman: the desk hears him, John does not. */
	open_as(&r, &raman);
	expect_presence(&s, raman.user_id, 1);
	open_as(&d, &chen);
	expect_presence(&s, chen.user_id, 1);
	/* Presence goes out in order: Dr. Raman's, had John got it, first. */
	ev = read_event(&p, "presence", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.user_id"), chen.user_id);
	assert_true(json_is_true(jpath(ev, "data.online")));
	json_decref(ev);
	cli_close(&r);
	expect_presence(&s, raman.user_id, 0);
	cli_close(&d);
	ev = read_event(&p, "presence", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.user_id"), chen.user_id);
	assert_false(json_is_true(jpath(ev, "data.online")));
	json_decref(ev);
	expect_presence(&s, chen.user_id, 0);
	/* The desk is no contact of John's: his going is not the desk's, and
	 * Dr. Raman's coming back is the next thing it hears. */
	cli_close(&p);
	open_as(&r, &raman);
	ev = read_event(&s, "presence", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.user_id"), raman.user_id);
	json_decref(ev);
	cli_close(&r);
	cli_close(&s);
}

static void
test_patient_and_their_doctor_chat_in_order(void **state)
{
	struct tcli	 p, d;
	json_t		*res, *ev, *list, *conv = NULL;
	int64_t		 id, again, ids[3];
	int64_t		 before;
	size_t		 i;

	(void)state;
	open_as(&p, &john);
	open_as(&d, &chen);
	res = call_ok(&p, "chat.open", "{s:I}", "user_id", (json_int_t)chen.user_id);
	assert_true(json_is_true(json_object_get(res, "created")));
	id = jint(res, "conversation.id");
	assert_true(id > 0);
	assert_int_equal(jint(res, "conversation.peer.user_id"), chen.user_id);
	assert_jstr(res, "conversation.peer.role", "doctor");
	assert_true(json_is_null(jpath(res, "conversation.last_message")));
	/* The same pair, either way round: the same conversation. */
	res = call_ok(&p, "chat.open", "{s:I}", "user_id", (json_int_t)chen.user_id);
	assert_false(json_is_true(json_object_get(res, "created")));
	assert_int_equal(jint(res, "conversation.id"), id);
	again = open_conv(&d, &john);
	assert_int_equal(again, id);

	before = unread_total(&d);
	ids[0] = send_msg(&p, id, "Hello doctor");
	ids[1] = send_msg(&p, id, "My cough is back.\nSince Monday.");
	ids[2] = send_msg(&p, id, "Should I come in?");
	assert_true(ids[0] < ids[1] && ids[1] < ids[2]);
	/* The doctor hears them in order. */
	for (i = 0; i < 3; i++) {
		ev = read_event(&d, "chat.message", EVENT_WAIT_MS);
		assert_non_null(ev);
		assert_int_equal(jint(ev, "data.id"), ids[i]);
		assert_int_equal(jint(ev, "data.sender_id"), john.user_id);
		assert_int_equal(jint(ev, "data.conversation_id"), id);
		json_decref(ev);
	}
	assert_int_equal(unread_total(&d), before + 3);
	res = call_ok(&d, "chat.history", "{s:I}", "conversation_id", (json_int_t)id);
	assert_int_equal(json_array_size(json_object_get(res, "messages")), 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(jint(json_array_get(json_object_get(res, "messages"), i),
		    "id"), ids[i]);
	assert_jstr(json_array_get(json_object_get(res, "messages"), 1), "body",
	    "My cough is back.\nSince Monday.");
	assert_false(json_is_true(json_object_get(res, "more")));

	/* chat.list: the last message and the unread count. */
	list = json_object_get(call_ok(&d, "chat.list", NULL), "conversations");
	for (i = 0; i < json_array_size(list); i++)
		if (jint(json_array_get(list, i), "id") == id)
			conv = json_array_get(list, i);
	assert_non_null(conv);
	assert_int_equal(jint(conv, "unread"), 3);
	assert_int_equal(jint(conv, "last_message.id"), ids[2]);
	assert_int_equal(jint(conv, "peer.user_id"), john.user_id);
	assert_true(json_is_true(jpath(conv, "peer.online")));

	/* Read receipts: the patient hears the doctor read up to the second. */
	res = call_ok(&d, "chat.read", "{s:I, s:I}", "conversation_id", (json_int_t)id,
	    "up_to_id", (json_int_t)ids[1]);
	assert_int_equal(jint(res, "read_id"), ids[1]);
	assert_int_equal(jint(res, "unread"), 1);
	ev = read_event(&p, "chat.read", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.user_id"), chen.user_id);
	assert_int_equal(jint(ev, "data.read_id"), ids[1]);
	json_decref(ev);
	/* Never back, never past the last message; no receipt when nothing moved. */
	res = call_ok(&d, "chat.read", "{s:I, s:I}", "conversation_id", (json_int_t)id,
	    "up_to_id", (json_int_t)ids[0]);
	assert_int_equal(jint(res, "read_id"), ids[1]);
	res = call_ok(&d, "chat.read", "{s:I, s:I}", "conversation_id", (json_int_t)id,
	    "up_to_id", (json_int_t)ids[2] + 1000);
	assert_int_equal(jint(res, "read_id"), ids[2]);
	assert_int_equal(jint(res, "unread"), 0);
	assert_int_equal(unread_total(&d), before);
	ev = read_event(&p, "chat.read", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.read_id"), ids[2]);
	json_decref(ev);
	assert_int_equal(events_pending(&p, "chat.read"), 0);
	/* The patient sees the doctor's read position. */
	res = call_ok(&p, "chat.open", "{s:I}", "user_id", (json_int_t)chen.user_id);
	assert_int_equal(jint(res, "conversation.peer_read_id"), ids[2]);
	assert_int_equal(jint(res, "conversation.unread"), 0);
	cli_close(&p);
	cli_close(&d);
}

static void
test_who_may_chat_with_whom(void **state)
{
	struct tcli	p, d, e;
	int64_t		id;

	(void)state;
	open_as(&p, &john);
	open_as(&d, &raman);
	open_as(&e, &emily);
	/* A doctor the patient never saw, either way round. */
	call_err(&p, "chat.open", "forbidden", "{s:I}", "user_id",
	    (json_int_t)raman.user_id);
	call_err(&d, "chat.open", "forbidden", "{s:I}", "user_id",
	    (json_int_t)john.user_id);
	/* Patients with patients or the desk: no. */
	call_err(&p, "chat.open", "forbidden", "{s:I}", "user_id",
	    (json_int_t)emily.user_id);
	call_err(&p, "chat.open", "forbidden", "{s:I}", "user_id",
	    (json_int_t)desk.user_id);
	call_err(&p, "chat.open", "bad_request", "{s:I}", "user_id",
	    (json_int_t)john.user_id);
	call_err(&p, "chat.open", "not_found", "{s:i}", "user_id", 999999);
	call_err(&p, "chat.open", "bad_request", "{s:s}", "user_id", "1");
	call_err(&p, "chat.open", "bad_request", "{}");
	/* Staff with staff: yes. */
	id = open_conv(&d, &desk);
	assert_true(id > 0);
	/* Someone else's conversation is not there at all. */
	id = open_conv(&p, &chen);
	call_err(&e, "chat.history", "not_found", "{s:I}", "conversation_id",
	    (json_int_t)id);
	call_err(&e, "chat.send", "not_found", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)id, "body", "hi", "client_msg_id", "intruder");
	call_err(&e, "chat.read", "not_found", "{s:I, s:i}", "conversation_id",
	    (json_int_t)id, "up_to_id", 1);
	call_err(&e, "chat.typing", "not_found", "{s:I}", "conversation_id",
	    (json_int_t)id);
	call_err(&d, "chat.history", "not_found", "{s:i}", "conversation_id", 999999);
	/* Not logged in. */
	cli_close(&e);
	cli_open(&e, &clinic_srv);
	call_err(&e, "chat.list", "unauthenticated", NULL);
	cli_close(&e);
	cli_close(&p);
	cli_close(&d);
}

/* Every page of c's chat.contacts for name (NULL: all), 3 at a time; a new
 * array, the caller's to free. Asserts that total is the same throughout. */
static json_t *
all_contacts(struct tcli *c, const char *name)
{
	json_t	*all = json_array(), *res, *page;
	int64_t	 total = -1, offset = 0;

	for (;;) {
		if (name != NULL)
			res = call_ok(c, "chat.contacts", "{s:s, s:i, s:I}", "name",
			    name, "limit", 3, "offset", (json_int_t)offset);
		else
			res = call_ok(c, "chat.contacts", "{s:i, s:I}", "limit", 3,
			    "offset", (json_int_t)offset);
		if (total < 0)
			total = jint(res, "total");
		assert_int_equal(jint(res, "total"), total);
		page = jpath(res, "contacts");
		json_array_extend(all, page);
		if (json_array_size(page) < 3)
			break;
		offset += 3;
	}
	assert_int_equal((int64_t)json_array_size(all), total);
	return all;
}

/* The contact of user_id in list, or NULL. */
static json_t *
contact_of(json_t *list, int64_t user_id)
{
	json_t	*x;
	size_t	 i;

	json_array_foreach(list, i, x) {
		if (jint(x, "user_id") == user_id)
			return x;
	}
	return NULL;
}

/*
 * chat.contacts lists exactly whom chat.open lets the caller write to: the
 * desk every staff member and no patient; a doctor staff and their own
 * patients; a patient only their own doctors -- never another patient.
 * Every contact listed can be opened; paging, the name filter, existing
 * conversations, deactivated accounts and bad input.
 */
static void
test_contacts_are_whom_one_may_chat_with(void **state)
{
	static struct account *const callers[] = { &desk, &chen, &raman, &john,
	    &emily };
	struct tcli	 c, a;
	json_t		*list, *x, *res;
	char		*email, longname[102];
	int64_t		 conv, uid;
	size_t		 i, k;

	(void)state;
	for (i = 0; i < nitems(callers); i++) {
		open_as(&c, callers[i]);
		list = all_contacts(&c, NULL);
		assert_null(contact_of(list, callers[i]->user_id));
		json_array_foreach(list, k, x) {
			const char	*role = jstr(x, "role");

			/* Sorted by name, each one a user chat.open accepts. */
			if (k > 0)
				assert_true(strcasecmp(jstr(json_array_get(list,
				    k - 1), "full_name"), jstr(x, "full_name")) <= 0);
			if (callers[i] == &john || callers[i] == &emily)
				assert_string_equal(role, "doctor");
			else if (callers[i] == &desk)
				assert_true(strcmp(role, "patient") != 0);
			call_ok(&c, "chat.open", "{s:I}", "user_id",
			    (json_int_t)jint(x, "user_id"));
		}
		if (callers[i] == &john) {
			/* John saw Dr. Chen and Dr. Okafor, never Dr. Raman. */
			assert_non_null(contact_of(list, chen.user_id));
			assert_non_null(contact_of(list, okafor.user_id));
			assert_null(contact_of(list, raman.user_id));
			assert_null(contact_of(list, emily.user_id));
			assert_null(contact_of(list, desk.user_id));
		} else if (callers[i] == &emily)
			assert_null(contact_of(list, john.user_id));
		else {
			/* Staff see staff. */
			assert_true(callers[i] == &desk ||
			    contact_of(list, desk.user_id) != NULL);
			assert_non_null(contact_of(list, okafor.user_id));
			assert_true(callers[i] == &raman ||
			    contact_of(list, raman.user_id) != NULL);
		}
		if (callers[i] == &chen)
			assert_non_null(contact_of(list, john.user_id));
		if (callers[i] == &raman || callers[i] == &desk)
			assert_null(contact_of(list, john.user_id));
		json_decref(list);
		cli_close(&c);
	}

	/* The name filter, any case; an open conversation is named. */
	open_as(&c, &john);
	conv = open_conv(&c, &chen);
	list = all_contacts(&c, "CHEN");
	assert_int_equal(json_array_size(list), 1);
	x = json_array_get(list, 0);
	assert_int_equal(jint(x, "user_id"), chen.user_id);
	assert_int_equal(jint(x, "conversation_id"), conv);
	assert_true(json_is_boolean(json_object_get(x, "online")));
	json_decref(list);
	list = all_contacts(&c, "emily");
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	cli_close(&c);
	open_as(&c, &chen);
	list = all_contacts(&c, "smith");
	assert_non_null(contact_of(list, john.user_id));
	json_array_foreach(list, k, x)
		assert_non_null(strcasestr(jstr(x, "full_name"), "smith"));
	json_decref(list);
	cli_close(&c);

	/* A new receptionist shows up for staff; deactivated, she is gone. */
	email = unique_email("contact");
	cli_open_as(&a, &clinic_srv, DEMO_ADMIN);
	uid = jint(call_ok(&a, "users.create", "{s:s, s:s, s:s, s:s}", "email",
	    email, "full_name", "Zelda Quonset", "role", "receptionist",
	    "password", STRONG_PASSWORD), "user.id");
	open_as(&c, &raman);
	res = call_ok(&c, "chat.contacts", "{s:s}", "name", "quonset");
	assert_int_equal(jint(res, "total"), 1);
	assert_int_equal(jint(res, "contacts.0.user_id"), uid);
	assert_jstr(res, "contacts.0.role", "receptionist");
	assert_true(json_is_null(jpath(res, "contacts.0.conversation_id")));
	call_ok(&a, "users.deactivate", "{s:I}", "id", (json_int_t)uid);
	res = call_ok(&c, "chat.contacts", "{s:s}", "name", "quonset");
	assert_int_equal(jint(res, "total"), 0);
	cli_close(&a);
	free(email);

	/* Bad input. */
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	call_err(&c, "chat.contacts", "bad_request", "{s:s}", "name", longname);
	call_err(&c, "chat.contacts", "bad_request", "{s:i}", "name", 3);
	call_err(&c, "chat.contacts", "bad_request", "{s:i}", "limit", 0);
	call_err(&c, "chat.contacts", "bad_request", "{s:i}", "limit", 201);
	call_err(&c, "chat.contacts", "bad_request", "{s:i}", "offset", -1);
	call_err(&c, "chat.contacts", "bad_request", "{s:s}", "q", "x");
	res = call_ok(&c, "chat.contacts", "{s:i, s:i}", "limit", 1, "offset",
	    100000);
	assert_int_equal(json_array_size(jpath(res, "contacts")), 0);
	assert_true(jint(res, "total") > 0);
	cli_close(&c);
	cli_open(&c, &clinic_srv);
	call_err(&c, "chat.contacts", "unauthenticated", NULL);
	cli_close(&c);
}

static void
test_every_terminal_of_a_user_hears_it(void **state)
{
	struct tcli	 p, d1, d2;
	json_t		*ev;
	int64_t		 id, m;

	(void)state;
	open_as(&p, &john);
	open_as(&d1, &chen);
	open_as(&d2, &chen);
	id = open_conv(&p, &chen);
	m = send_msg(&p, id, "Three of us here");
	ev = read_event(&d1, "chat.message", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.id"), m);
	json_decref(ev);
	ev = read_event(&d2, "chat.message", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.id"), m);
	json_decref(ev);
	/* Reading on one terminal tells the other (and the sender). */
	call_ok(&d1, "chat.read", "{s:I, s:I}", "conversation_id", (json_int_t)id,
	    "up_to_id", (json_int_t)m);
	ev = read_event(&d2, "chat.read", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.read_id"), m);
	json_decref(ev);
	ev = read_event(&p, "chat.read", EVENT_WAIT_MS);
	assert_non_null(ev);
	json_decref(ev);
	/* A doctor's reply reaches the patient. */
	m = send_msg(&d2, id, "Come in tomorrow at 9.");
	ev = read_event(&p, "chat.message", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.id"), m);
	assert_int_equal(jint(ev, "data.sender_id"), chen.user_id);
	json_decref(ev);
	cli_close(&p);
	cli_close(&d1);
	cli_close(&d2);
}

static void
test_typing_is_pushed_throttled_and_not_stored(void **state)
{
	struct tcli	 p, d;
	json_t		*ev, *res;
	int64_t		 id;
	size_t		 n;

	(void)state;
	open_as(&p, &john);
	open_as(&d, &okafor);
	id = open_conv(&p, &okafor);
	n = json_array_size(json_object_get(call_ok(&p, "chat.history", "{s:I, s:i}",
	    "conversation_id", (json_int_t)id, "limit", 200), "messages"));
	res = call_ok(&p, "chat.typing", "{s:I}", "conversation_id", (json_int_t)id);
	assert_true(json_is_true(json_object_get(res, "sent")));
	ev = read_event(&d, "chat.typing", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.user_id"), john.user_id);
	assert_int_equal(jint(ev, "data.conversation_id"), id);
	json_decref(ev);
	/* Again at once: nothing pushed. */
	res = call_ok(&p, "chat.typing", "{s:I}", "conversation_id", (json_int_t)id);
	assert_false(json_is_true(json_object_get(res, "sent")));
	assert_int_equal(events_pending(&d, "chat.typing"), 0);
	/* The sender does not hear their own typing. */
	assert_int_equal(events_pending(&p, "chat.typing"), 0);
	/* A second later (the server's clock) it goes through again. */
	clock_forward(&p, 2);
	res = call_ok(&p, "chat.typing", "{s:I}", "conversation_id", (json_int_t)id);
	assert_true(json_is_true(json_object_get(res, "sent")));
	ev = read_event(&d, "chat.typing", EVENT_WAIT_MS);
	assert_non_null(ev);
	json_decref(ev);
	assert_int_equal(json_array_size(json_object_get(call_ok(&p, "chat.history",
	    "{s:I, s:i}", "conversation_id", (json_int_t)id, "limit", 200),
	    "messages")), n);
	cli_close(&p);
	cli_close(&d);
}

static void
test_presence_on_login_logout_and_disconnect(void **state)
{
	struct tcli	 p, d;
	json_t		*res;

	(void)state;
	open_as(&d, &chen);
	/* John shares a conversation with Dr. Chen (made above). */
	open_as(&p, &john);
	expect_presence(&d, john.user_id, 1);
	res = call_ok(&d, "chat.open", "{s:I}", "user_id", (json_int_t)john.user_id);
	assert_true(json_is_true(jpath(res, "conversation.peer.online")));
	cli_close(&p);
	expect_presence(&d, john.user_id, 0);
	res = call_ok(&d, "chat.open", "{s:I}", "user_id", (json_int_t)john.user_id);
	assert_false(json_is_true(jpath(res, "conversation.peer.online")));
	assert_true(jint(res, "conversation.peer.last_seen") > 0);
	/* Logout too; and a second terminal keeps a user online. */
	open_as(&p, &john);
	expect_presence(&d, john.user_id, 1);
	{
		struct tcli	p2;
		int64_t		conns;
		int		heard, tries;

		open_as(&p2, &john);
		heard = events_pending(&d, "presence");
		conns = jint(d.reply, "result.connections");
		cli_close(&p2);
		/*
		 * Until the server has seen p2 go (health counts it no more):
		 * it decides on presence in the same turn of its loop, so the
		 * health call after that one comes after any event it sent.
		 */
		for (tries = 0; tries < 200 * test_time_scale(); tries++) {
			heard += events_pending(&d, "presence");
			if (jint(d.reply, "result.connections") < conns)
				break;
			usleep(10000);
		}
		assert_true(tries < 200 * test_time_scale());
		heard += events_pending(&d, "presence");
		assert_int_equal(heard, 0);
	}
	call_ok(&p, "auth.logout", NULL);
	expect_presence(&d, john.user_id, 0);
	cli_close(&p);
	/* The logout revoked the token the other tests use. */
	clinic_login(&clinic_srv, &john);
	cli_close(&d);
}

static void
test_resend_with_the_same_client_msg_id_is_stored_once(void **state)
{
	struct tcli	 p, d;
	json_t		*res, *ev;
	int64_t		 id, other, m;

	(void)state;
	open_as(&p, &john);
	open_as(&d, &chen);
	id = open_conv(&p, &chen);
	other = open_conv(&p, &okafor);
	res = call_ok(&p, "chat.send", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)id, "body", "Once only", "client_msg_id", "resend-1");
	assert_false(json_is_true(json_object_get(res, "duplicate")));
	m = jint(res, "message.id");
	ev = read_event(&d, "chat.message", EVENT_WAIT_MS);
	assert_non_null(ev);
	assert_int_equal(jint(ev, "data.id"), m);
	json_decref(ev);
	/* The reply was lost; the client sends again. */
	res = call_ok(&p, "chat.send", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)id, "body", "Once only", "client_msg_id", "resend-1");
	assert_true(json_is_true(json_object_get(res, "duplicate")));
	assert_int_equal(jint(res, "message.id"), m);
	assert_jstr(res, "message.body", "Once only");
	assert_int_equal(events_pending(&d, "chat.message"), 0);
	res = call_ok(&d, "chat.history", "{s:I, s:I}", "conversation_id",
	    (json_int_t)id, "after_id", (json_int_t)m - 1);
	assert_int_equal(json_array_size(json_object_get(res, "messages")), 1);
	/* The same id in another conversation is a client bug. */
	call_err(&p, "chat.send", "conflict", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)other, "body", "Once only", "client_msg_id", "resend-1");
	/* Another sender may use the same id. */
	res = call_ok(&d, "chat.send", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)id, "body", "Mine", "client_msg_id", "resend-1");
	assert_false(json_is_true(json_object_get(res, "duplicate")));
	cli_close(&p);
	cli_close(&d);
}

static void
test_catch_up_after_reconnect_and_paging(void **state)
{
	struct tcli	 p, d;
	json_t		*res, *msgs;
	int64_t		 id, last, m[5];
	size_t		 i;

	(void)state;
	open_as(&p, &john);
	id = open_conv(&p, &chen);
	last = send_msg(&p, id, "before the doctor went away");
	/* The doctor is offline while five arrive. */
	for (i = 0; i < 5; i++) {
		char	body[32];

		snprintf(body, sizeof body, "while away %zu", i);
		m[i] = send_msg(&p, id, body);
	}
	open_as(&d, &chen);
	res = call_ok(&d, "chat.history", "{s:I, s:I}", "conversation_id",
	    (json_int_t)id, "after_id", (json_int_t)last);
	msgs = json_object_get(res, "messages");
	assert_int_equal(json_array_size(msgs), 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(jint(json_array_get(msgs, i), "id"), m[i]);
	assert_false(json_is_true(json_object_get(res, "more")));
	/* In pages of two. */
	res = call_ok(&d, "chat.history", "{s:I, s:I, s:i}", "conversation_id",
	    (json_int_t)id, "after_id", (json_int_t)last, "limit", 2);
	msgs = json_object_get(res, "messages");
	assert_int_equal(json_array_size(msgs), 2);
	assert_int_equal(jint(json_array_get(msgs, 0), "id"), m[0]);
	assert_true(json_is_true(json_object_get(res, "more")));
	/* Backwards: the newest two, then the two before them. */
	res = call_ok(&d, "chat.history", "{s:I, s:i}", "conversation_id",
	    (json_int_t)id, "limit", 2);
	msgs = json_object_get(res, "messages");
	assert_int_equal(jint(json_array_get(msgs, 0), "id"), m[3]);
	assert_int_equal(jint(json_array_get(msgs, 1), "id"), m[4]);
	assert_true(json_is_true(json_object_get(res, "more")));
	res = call_ok(&d, "chat.history", "{s:I, s:I, s:i}", "conversation_id",
	    (json_int_t)id, "before_id", (json_int_t)m[3], "limit", 2);
	msgs = json_object_get(res, "messages");
	assert_int_equal(jint(json_array_get(msgs, 0), "id"), m[1]);
	assert_int_equal(jint(json_array_get(msgs, 1), "id"), m[2]);
	/* From the start. */
	res = call_ok(&d, "chat.history", "{s:I, s:i, s:i}", "conversation_id",
	    (json_int_t)id, "after_id", 0, "limit", 1);
	assert_true(jint(json_array_get(json_object_get(res, "messages"), 0), "id") > 0);
	assert_true(json_is_true(json_object_get(res, "more")));
	cli_close(&p);
	cli_close(&d);
}

static void
test_unread_counts_over_conversations(void **state)
{
	struct tcli	 p, c, o;
	json_t		*res;
	int64_t		 with_chen, with_okafor, m1, m2;

	(void)state;
	open_as(&p, &john);
	open_as(&c, &chen);
	open_as(&o, &okafor);
	with_chen = open_conv(&c, &john);
	with_okafor = open_conv(&o, &john);
	/* Start from nothing unread. */
	call_ok(&p, "chat.read", "{s:I, s:I}", "conversation_id", (json_int_t)with_chen,
	    "up_to_id", (json_int_t)INT32_MAX);
	call_ok(&p, "chat.read", "{s:I, s:I}", "conversation_id",
	    (json_int_t)with_okafor, "up_to_id", (json_int_t)INT32_MAX);
	assert_int_equal(unread_total(&p), 0);
	m1 = send_msg(&c, with_chen, "one");
	send_msg(&c, with_chen, "two");
	m2 = send_msg(&o, with_okafor, "three");
	assert_int_equal(unread_total(&p), 3);
	/* The sender's own messages are never unread for them. */
	res = call_ok(&c, "chat.open", "{s:I}", "user_id", (json_int_t)john.user_id);
	assert_int_equal(jint(res, "conversation.unread"), 0);
	call_ok(&p, "chat.read", "{s:I, s:I}", "conversation_id", (json_int_t)with_chen,
	    "up_to_id", (json_int_t)m1);
	assert_int_equal(unread_total(&p), 2);
	call_ok(&p, "chat.read", "{s:I, s:I}", "conversation_id",
	    (json_int_t)with_okafor, "up_to_id", (json_int_t)m2);
	assert_int_equal(unread_total(&p), 1);
	call_err(&p, "chat.unread", "bad_request", "{s:i}", "x", 1);
	cli_close(&p);
	cli_close(&c);
	cli_close(&o);
}

static void
test_bad_input_is_refused_and_stores_nothing(void **state)
{
	struct tcli	 p;
	json_t		*res;
	char		*big;
	int64_t		 id;
	size_t		 n, i;

	(void)state;
	open_as(&p, &john);
	id = open_conv(&p, &chen);
	n = json_array_size(json_object_get(call_ok(&p, "chat.history", "{s:I, s:i}",
	    "conversation_id", (json_int_t)id, "limit", 200), "messages"));
	call_err(&p, "chat.send", "bad_request", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)id, "body", "", "client_msg_id", "bad-1");
	big = repeat_char('a', 4001);
	call_err(&p, "chat.send", "bad_request", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)id, "body", big, "client_msg_id", "bad-2");
	big[4000] = '\0';
	res = call_ok(&p, "chat.send", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)id, "body", big, "client_msg_id", "ok-4000");
	assert_int_equal(strlen(jstr(res, "message.body")), 4000);
	free(big);
	n++;
	/* 4000 characters, not bytes. */
	big = xmalloc(4000 * 2 + 1);
	for (i = 0; i < 4000; i++)
		memcpy(big + i * 2, "\xc3\xa9", 2);
	big[8000] = '\0';
	call_ok(&p, "chat.send", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)id, "body", big, "client_msg_id", "ok-utf8");
	free(big);
	n++;
	call_err(&p, "chat.send", "bad_request", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)id, "body", "bell\a", "client_msg_id", "bad-3");
	call_err(&p, "chat.send", "bad_request", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)id, "body", "esc\x1b[2J", "client_msg_id", "bad-4");
	call_ok(&p, "chat.send", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)id, "body", "line one\nline\ttwo", "client_msg_id", "ok-lines");
	n++;
	call_err(&p, "chat.send", "bad_request", "{s:I, s:s}", "conversation_id",
	    (json_int_t)id, "body", "no id");
	call_err(&p, "chat.send", "bad_request", "{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)id, "body", "x", "client_msg_id", "");
	call_err(&p, "chat.send", "bad_request", "{s:I, s:i, s:s}", "conversation_id",
	    (json_int_t)id, "body", 5, "client_msg_id", "bad-5");
	call_err(&p, "chat.send", "bad_request", "{s:s, s:s, s:s}", "conversation_id",
	    "1", "body", "x", "client_msg_id", "bad-6");
	call_err(&p, "chat.send", "bad_request", "{s:I, s:s, s:s, s:i}",
	    "conversation_id", (json_int_t)id, "body", "x", "client_msg_id", "bad-7",
	    "extra", 1);
	call_err(&p, "chat.history", "bad_request", "{s:I, s:i, s:i}",
	    "conversation_id", (json_int_t)id, "before_id", 5, "after_id", 1);
	call_err(&p, "chat.history", "bad_request", "{s:I, s:i}",
	    "conversation_id", (json_int_t)id, "limit", 0);
	call_err(&p, "chat.history", "bad_request", "{s:I, s:i}",
	    "conversation_id", (json_int_t)id, "limit", 201);
	call_err(&p, "chat.read", "bad_request", "{s:I}", "conversation_id",
	    (json_int_t)id);
	call_err(&p, "chat.read", "bad_request", "{s:I, s:i}", "conversation_id",
	    (json_int_t)id, "up_to_id", 0);
	call_err(&p, "chat.typing", "bad_request", "{}");
	call_err(&p, "chat.list", "bad_request", "{s:i}", "x", 1);
	assert_int_equal(json_array_size(json_object_get(call_ok(&p, "chat.history",
	    "{s:I, s:i}", "conversation_id", (json_int_t)id, "limit", 200),
	    "messages")), n);
	cli_close(&p);
}

static void
test_offline_recipient_gets_a_notification(void **state)
{
	struct tcli	 p, d, p2;
	json_t		*res, *list, *ev;
	int64_t		 id, nid, unread;

	(void)state;
	open_as(&d, &okafor);
	id = open_conv(&d, &john);
	/* John is offline: the message leaves a notification. */
	open_as(&p, &john);
	call_ok(&p, "notifications.read_all", NULL);
	cli_close(&p);
	/* Offline once the server has seen him go. */
	expect_presence(&d, john.user_id, 0);
	send_msg(&d, id, "Your results are in.\nNothing to worry about.");
	open_as(&p, &john);
	res = call_ok(&p, "notifications.list", "{s:b}", "unread_only", 1);
	list = json_object_get(res, "notifications");
	assert_int_equal(json_array_size(list), 1);
	assert_int_equal(jint(res, "unread"), 1);
	assert_jstr(json_array_get(list, 0), "kind", "chat.message");
	assert_jstr(json_array_get(list, 0), "title",
	    "New message from Dr. Michael Okafor");
	assert_int_equal(jint(json_array_get(list, 0), "ref_id"), id);
	assert_true(json_is_null(jpath(json_array_get(list, 0), "read_at")));
	nid = jint(json_array_get(list, 0), "id");
	/* Online now: no notification, the chat.message event is enough. */
	send_msg(&d, id, "See you Tuesday.");
	ev = read_event(&p, "chat.message", EVENT_WAIT_MS);
	assert_non_null(ev);
	json_decref(ev);
	assert_int_equal(events_pending(&p, "notification"), 0);
	assert_int_equal(jint(call_ok(&p, "notifications.list", NULL), "unread"), 1);
	/* Someone else's notification is not there. */
	open_as(&p2, &emily);
	call_err(&p2, "notifications.read", "not_found", "{s:I}", "id", (json_int_t)nid);
	cli_close(&p2);
	res = call_ok(&p, "notifications.read", "{s:I}", "id", (json_int_t)nid);
	assert_true(jint(res, "notification.read_at") > 0);
	assert_int_equal(jint(res, "unread"), 0);
	/* Again: nothing changes. */
	res = call_ok(&p, "notifications.read", "{s:I}", "id", (json_int_t)nid);
	assert_true(jint(res, "notification.read_at") > 0);
	res = call_ok(&p, "notifications.list", "{s:b}", "unread_only", 1);
	assert_int_equal(json_array_size(json_object_get(res, "notifications")), 0);
	res = call_ok(&p, "notifications.list", "{s:i}", "limit", 1);
	assert_int_equal(json_array_size(json_object_get(res, "notifications")), 1);
	res = call_ok(&p, "notifications.list", "{s:I}", "before_id", (json_int_t)nid);
	assert_int_equal(json_array_size(json_object_get(res, "notifications")), 0);
	/* read_all, with two unread. */
	cli_close(&p);
	expect_presence(&d, john.user_id, 0);
	send_msg(&d, id, "one");
	send_msg(&d, id, "two");
	open_as(&p, &john);
	assert_int_equal(jint(call_ok(&p, "notifications.read_all", NULL), "marked"), 2);
	assert_int_equal(jint(call_ok(&p, "notifications.read_all", NULL), "marked"), 0);
	unread = jint(call_ok(&p, "notifications.list", NULL), "unread");
	assert_int_equal(unread, 0);
	/* Bad input. */
	call_err(&p, "notifications.read", "bad_request", "{}");
	call_err(&p, "notifications.read", "bad_request", "{s:s}", "id", "1");
	call_err(&p, "notifications.read", "not_found", "{s:i}", "id", 999999);
	call_err(&p, "notifications.list", "bad_request", "{s:i}", "limit", 0);
	call_err(&p, "notifications.list", "bad_request", "{s:i}", "unread_only", 1);
	call_err(&p, "notifications.read_all", "bad_request", "{s:i}", "x", 1);
	cli_close(&p);
	cli_close(&d);
}

/* Last: its own server, with a small message budget. */
static void
test_message_rate_limit(void **state)
{
	static const char *const env[] = { "MEDIFLOW_RL_MSG=3/1m", NULL };
	static const struct tsrv_opts opts = {
		.env = env,
		.config = "rl_api = 100000/15m\nrl_api_staff = 100000/15m\n",
	};
	struct tsrv	 s;
	struct account	 pj = { DEMO_PATIENT, NULL, 0, 0 };
	struct account	 dc = { DEMO_DOCTOR, NULL, 0, 0 };
	struct tcli	 p, d;
	json_t		*err;
	int64_t		 id;
	int		 i;

	(void)state;
	srv_start(&s, &opts);
	clinic_login(&s, &pj);
	clinic_login(&s, &dc);
	clinic_open(&p, &s, &pj);
	clinic_open(&d, &s, &dc);
	id = open_conv(&p, &dc);
	for (i = 0; i < 3; i++)
		send_msg(&p, id, "within budget");
	err = call_err(&p, "chat.send", "rate_limited", "{s:I, s:s, s:s}",
	    "conversation_id", (json_int_t)id, "body", "one too many",
	    "client_msg_id", "over");
	assert_true(jint(err, "retry_after") > 0);
	/* Nothing stored; other ops and other senders go on. */
	assert_int_equal(json_array_size(json_object_get(call_ok(&p, "chat.history",
	    "{s:I}", "conversation_id", (json_int_t)id), "messages")), 3);
	send_msg(&d, id, "the doctor's own budget");
	cli_close(&p);
	cli_close(&d);
	srv_stop(&s);
	free(pj.token);
	free(dc.token);
}

static int
group_setup(void **state)
{
	(void)state;
	clinic_start(&srv_opts, chatters);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	clinic_stop();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* First: before any conversation exists. */
		cmocka_unit_test(test_presence_reaches_contacts_without_a_conversation),
		cmocka_unit_test(test_patient_and_their_doctor_chat_in_order),
		cmocka_unit_test(test_who_may_chat_with_whom),
		cmocka_unit_test(test_every_terminal_of_a_user_hears_it),
		cmocka_unit_test(test_typing_is_pushed_throttled_and_not_stored),
		cmocka_unit_test(test_presence_on_login_logout_and_disconnect),
		cmocka_unit_test(test_resend_with_the_same_client_msg_id_is_stored_once),
		cmocka_unit_test(test_catch_up_after_reconnect_and_paging),
		cmocka_unit_test(test_unread_counts_over_conversations),
		cmocka_unit_test(test_bad_input_is_refused_and_stores_nothing),
		cmocka_unit_test(test_offline_recipient_gets_a_notification),
		cmocka_unit_test(test_message_rate_limit),
		/* Last: opens a conversation with every contact. */
		cmocka_unit_test(test_contacts_are_whom_one_may_chat_with),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
