/* ui-chat.c -- the chat pane every role has: conversations on the left
 * (who is online, unread counts), the open conversation's messages on the
 * right with a line to write in. Push events bring messages, read receipts,
 * typing and presence without a key; the tab's title counts what is unread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "tui.h"
#include "util.h"

#define LIST_W		28
#define HISTORY_LIMIT	100
#define TYPING_SECONDS	4
#define TYPING_EVERY	2
#define CONTACTS_PAGE	50	/* "Chat with" shows this many; typing narrows */
#define SEARCH_DELAY_MS	120

enum chat_focus {
	FOCUS_LIST,
	FOCUS_INPUT,
};

struct chat {
	struct view	 view;
	json_t		*convs;		/* chat.list's conversations */
	struct tlist	 list;
	int64_t		 open_id;	/* the conversation shown */
	json_t		*messages;	/* its messages, oldest first */
	int		 scroll;	/* lines up from the newest */
	struct field	 input;
	enum chat_focus	 focus;
	int		 loading;
	char		 error[300];
	char		 title[64];
	time_t		 typing_at;	/* the peer typed, then */
	time_t		 typed_at;	/* we told the server we type */
	int		 sending;
	char		 pending[FIELD_MAX];	/* the message on its way */
	struct dialog	*picker;	/* "Chat with", while it is open */
};

static void	chat_draw(struct view *, int, int, int, int);
static int	chat_key(struct view *, int);
static void	chat_event(struct view *, const char *, json_t *);
static void	chat_reload(struct view *);
static void	chat_shown(struct view *);
static void	chat_free(struct view *);
static void	chat_open_conv(struct chat *, int64_t id);
static void	chat_focus(struct chat *, enum chat_focus);

static const struct help_key chat_help[] = {
	{ "Up Down j k", "choose a conversation" },
	{ "Enter", "write in it (Enter again sends)" },
	{ "Tab", "between the list and the line you write" },
	{ "n", "start a conversation with anyone you may write to" },
	{ "PgUp PgDn", "scroll the messages" },
	{ "Esc", "back to the list" },
	{ "R", "reload" },
	{ NULL, NULL }
};

static const struct view_type chat_type = {
	.name = "Chat",
	.draw = chat_draw,
	.key = chat_key,
	.event = chat_event,
	.reload = chat_reload,
	.shown = chat_shown,
	.free = chat_free,
	.hints = "Up/Down conversation|Enter write|n new|PgUp/PgDn scroll|? help",
	.help = chat_help,
};

/* --- the list and the title --- */

static json_t *
chat_conv(struct chat *c, int64_t id)
{
	json_t	*x;
	size_t	 i;

	json_array_foreach(c->convs, i, x) {
		if (jget_int(x, "id") == id)
			return x;
	}
	return NULL;
}

static void
chat_update_title(struct chat *c)
{
	json_t	*x;
	size_t	 i;
	int64_t	 unread = 0;

	json_array_foreach(c->convs, i, x)
		unread += jget_int(x, "unread");
	if (unread > 0)
		snprintf(c->title, sizeof c->title, "Chat (%lld)", (long long)unread);
	else
		snprintf(c->title, sizeof c->title, "Chat");
	tui_set_title(&c->view, c->title);
}

/* Latest message first, as chat.list orders them. */
static int
conv_cmp(const void *x, const void *y)
{
	json_t	*a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int64_t	 ia = jget_int(json_object_get(a, "last_message"), "id");
	int64_t	 ib = jget_int(json_object_get(b, "last_message"), "id");

	return ia > ib ? -1 : ia < ib;
}

static void
chat_sort(struct chat *c)
{
	json_t	**v, *sorted, *sel;
	size_t	  n = json_array_size(c->convs), i;
	int64_t	  keep = 0;

	if (c->list.cur >= 0 && (sel = json_array_get(c->convs, (size_t)c->list.cur)) != NULL)
		keep = jget_int(sel, "id");
	v = xcalloc(n + 1, sizeof *v);
	for (i = 0; i < n; i++)
		v[i] = json_array_get(c->convs, i);
	qsort(v, n, sizeof *v, conv_cmp);
	sorted = json_array();
	for (i = 0; i < n; i++) {
		json_array_append(sorted, v[i]);
		if (jget_int(v[i], "id") == keep)
			c->list.cur = (int)i;
	}
	free(v);
	json_decref(c->convs);
	c->convs = sorted;
	tlist_set_count(&c->list, (int)n);
}

static void
chat_mark_read(struct chat *c)
{
	json_t	*conv = chat_conv(c, c->open_id), *last;

	if (conv == NULL || !tui_showing(&c->view) || json_array_size(c->messages) == 0)
		return;
	last = json_array_get(c->messages, json_array_size(c->messages) - 1);
	if (jget_int(conv, "unread") == 0 && jget_int(conv, "read_id") >= jget_int(last, "id"))
		return;
	json_object_set_new(conv, "unread", json_integer(0));
	json_object_set_new(conv, "read_id", json_integer(jget_int(last, "id")));
	tconn_call("chat.read", json_pack("{s:I, s:I}", "conversation_id",
	    (json_int_t)c->open_id, "up_to_id", (json_int_t)jget_int(last, "id")),
	    c, NULL, NULL);
	chat_update_title(c);
}

static void
chat_listed(const struct tconn_reply *reply, void *arg)
{
	struct chat	*c = arg;
	json_t		*first;

	c->loading = 0;
	if (!reply->ok) {
		strlcpy_mf(c->error, reply->message, sizeof c->error);
		tui_redraw();
		return;
	}
	c->error[0] = '\0';
	json_decref(c->convs);
	c->convs = json_incref(jget_array(reply->result, "conversations"));
	tlist_set_count(&c->list, (int)json_array_size(c->convs));
	chat_update_title(c);
	if (c->open_id != 0 && chat_conv(c, c->open_id) != NULL)
		chat_open_conv(c, c->open_id);
	else if ((first = json_array_get(c->convs, 0)) != NULL) {
		c->list.cur = 0;
		chat_open_conv(c, jget_int(first, "id"));
	}
	tui_redraw();
}

static void
chat_reload(struct view *v)
{
	struct chat	*c = v->data;

	c->loading = 1;
	tconn_call("chat.list", NULL, c, chat_listed, c);
}

static void
chat_shown(struct view *v)
{
	chat_mark_read(v->data);
}

/* --- a conversation --- */

static void
chat_history_done(const struct tconn_reply *reply, void *arg)
{
	struct chat	*c = arg;

	if (!reply->ok) {
		strlcpy_mf(c->error, reply->message, sizeof c->error);
		tui_redraw();
		return;
	}
	json_decref(c->messages);
	c->messages = json_incref(jget_array(reply->result, "messages"));
	c->scroll = 0;
	chat_mark_read(c);
	tui_redraw();
}

static void
chat_open_conv(struct chat *c, int64_t id)
{
	if (c->open_id != id) {
		json_decref(c->messages);
		c->messages = NULL;
		c->typing_at = 0;
	}
	c->open_id = id;
	tconn_call("chat.history", json_pack("{s:I, s:i}", "conversation_id",
	    (json_int_t)id, "limit", HISTORY_LIMIT), c, chat_history_done, c);
}

static void
chat_sent(const struct tconn_reply *reply, void *arg)
{
	struct chat	*c = arg;

	c->sending = 0;
	if (!reply->ok) {
		tui_message(1, "Not sent: %s", reply->message);
		/* Back in the line to send again, unless a new one is there. */
		if (c->input.len == 0)
			field_set(&c->input, c->pending);
		return;
	}
	/* The chat.message event, ahead of this reply, showed it already. */
	tui_redraw();
}

static void
chat_send(struct chat *c)
{
	unsigned char	rnd[12];
	char		id[32];

	if (c->open_id == 0) {
		tui_message(1, "Choose a conversation first (n starts one).");
		return;
	}
	if (c->input.len == 0 || c->sending)
		return;
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(id, sizeof id, rnd, sizeof rnd);
	c->sending = 1;
	strlcpy_mf(c->pending, c->input.text, sizeof c->pending);
	tconn_call("chat.send", json_pack("{s:I, s:s, s:s}", "conversation_id",
	    (json_int_t)c->open_id, "body", c->input.text, "client_msg_id", id), c,
	    chat_sent, c);
	field_set(&c->input, "");
}

/* --- starting one --- */

static void
chat_opened(const struct tconn_reply *reply, void *arg)
{
	struct chat	*c = arg;
	json_t		*conv, *x;
	size_t		 i;

	if (!reply->ok) {
		tui_message(1, "Cannot chat: %s", reply->message);
		return;
	}
	conv = json_object_get(reply->result, "conversation");
	if (chat_conv(c, jget_int(conv, "id")) == NULL) {
		json_array_insert(c->convs, 0, conv);
		tlist_set_count(&c->list, (int)json_array_size(c->convs));
	}
	chat_sort(c);
	json_array_foreach(c->convs, i, x) {
		if (jget_int(x, "id") == jget_int(conv, "id"))
			c->list.cur = (int)i;
	}
	chat_open_conv(c, jget_int(conv, "id"));
	chat_focus(c, FOCUS_INPUT);
	tui_redraw();
}

static struct chat *chat_current;	/* the one chat tab, for ui_chat_with */

void
ui_chat_with(int64_t user_id)
{
	if (chat_current == NULL) {
		tui_message(1, "There is no chat screen.");
		return;
	}
	tconn_call("chat.open", json_pack("{s:I}", "user_id", (json_int_t)user_id),
	    chat_current, chat_opened, chat_current);
	tui_message(0, "Opening the conversation; the Chat tab shows it.");
}

/*
 * "Chat with": whom the server lets this user write to (chat.contacts:
 * staff for staff, a doctor's own patients, a patient's own doctors),
 * filtered by name on the server as one types, a page at a time.
 */
struct picker {
	struct chat	*c;
	struct event	*timer;
	unsigned	 sent, shown;	/* request numbers, so late replies lose */
};

static void
contact_label(struct dialog *d, json_t *x, char *buf, size_t len, attr_t *a)
{
	char	name[300];

	(void)d;
	(void)a;
	/* Padded by columns, not bytes: names are UTF-8. */
	text_pad(name, sizeof name, jget_str(x, "full_name"), 28);
	snprintf(buf, len, "%s  %-12s  %s", name, jget_str(x, "role"),
	    json_is_true(json_object_get(x, "online")) ? "online" : "");
}

static void
new_pick(struct dialog *d)
{
	struct picker	*pk = d->arg;
	struct chat	*c = pk->c;
	json_t		*x = dialog_selected(d);

	if (c == NULL) {
		/* The chat tab is gone. */
		dialog_close(d);
		return;
	}
	if (x == NULL) {
		strlcpy_mf(d->error, "nobody to write to by that name", sizeof d->error);
		return;
	}
	tconn_call("chat.open", json_pack("{s:I}", "user_id",
	    (json_int_t)jget_int(x, "user_id")), c, chat_opened, c);
	dialog_close(d);
}

static void
new_loaded(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;
	struct picker	*pk = d->arg;
	json_t		*list;
	int64_t		 total;

	/* Replies come in request order: only the latest one counts. */
	if (++pk->shown < pk->sent)
		return;
	if (!reply->ok) {
		strlcpy_mf(d->error, reply->message, sizeof d->error);
		dialog_set_items(d, json_array());
		tui_redraw();
		return;
	}
	d->error[0] = '\0';
	list = jget_array(reply->result, "contacts");
	total = jget_int(reply->result, "total");
	d->list.cur = 0;
	dialog_set_items(d, json_incref(list));
	if (total == 0)
		strlcpy_mf(d->note, "nobody you may write to by that name",
		    sizeof d->note);
	else if ((size_t)total > json_array_size(list))
		snprintf(d->note, sizeof d->note, "%zu of %lld; type to narrow",
		    json_array_size(list), (long long)total);
	else
		snprintf(d->note, sizeof d->note, "%lld you may write to",
		    (long long)total);
	tui_redraw();
}

static void
new_search_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dialog	*d = arg;
	struct picker	*pk = d->arg;
	const char	*q = field_value(dialog_get(d, "q"));

	(void)fd;
	(void)what;
	while (*q == ' ')
		q++;
	pk->sent++;
	tconn_call("chat.contacts", json_pack("{s:s, s:i}", "name", q, "limit",
	    CONTACTS_PAGE), d, new_loaded, d);
}

static void
new_changed(struct dialog *d)
{
	struct picker	*pk = d->arg;
	struct timeval	 tv = { 0, SEARCH_DELAY_MS * 1000 };

	strlcpy_mf(d->note, "searching...", sizeof d->note);
	evtimer_add(pk->timer, &tv);
}

static void
new_closed(struct dialog *d)
{
	struct picker	*pk = d->arg;

	if (pk->c != NULL && pk->c->picker == d)
		pk->c->picker = NULL;
	event_free(pk->timer);
	free(pk);
}

static void
chat_new(struct chat *c)
{
	struct picker	*pk = xcalloc(1, sizeof *pk);
	struct dialog	*d = dialog_new("Chat with", new_pick, pk);

	pk->c = c;
	c->picker = d;
	pk->timer = evtimer_new(tui_base(), new_search_cb, d);
	dialog_field(d, "q", "Name");
	d->changed = new_changed;
	d->closed = new_closed;
	d->items = json_array();
	d->item_label = contact_label;
	d->list_rows = 8;
	d->width = 64;
	d->dialog_hints = "Enter open|type to filter|Up/Down choose|Esc cancel";
	strlcpy_mf(d->note, "loading...", sizeof d->note);
	new_search_cb(-1, 0, d);
	dialog_open(d);
}

/* --- events --- */

static void
chat_event(struct view *v, const char *event, json_t *data)
{
	struct chat	*c = v->data;
	json_t		*conv, *peer;
	size_t		 i;

	if (strcmp(event, "chat.message") == 0) {
		int64_t	cid = jget_int(data, "conversation_id");

		if ((conv = chat_conv(c, cid)) == NULL) {
			/* A new conversation: the list says with whom. */
			chat_reload(v);
			return;
		}
		json_object_set(conv, "last_message", data);
		if (jget_int(data, "sender_id") != tui_me()->user_id)
			json_object_set_new(conv, "unread",
			    json_integer(jget_int(conv, "unread") + 1));
		if (cid == c->open_id && c->messages != NULL) {
			json_array_append(c->messages, data);
			c->typing_at = 0;
			chat_mark_read(c);
		}
		chat_sort(c);
		chat_update_title(c);
	} else if (strcmp(event, "chat.read") == 0) {
		if ((conv = chat_conv(c, jget_int(data, "conversation_id"))) != NULL &&
		    jget_int(data, "user_id") != tui_me()->user_id)
			json_object_set_new(conv, "peer_read_id",
			    json_integer(jget_int(data, "read_id")));
	} else if (strcmp(event, "chat.typing") == 0) {
		if (jget_int(data, "conversation_id") == c->open_id)
			c->typing_at = time(NULL);
	} else if (strcmp(event, "presence") == 0) {
		/* The picker's contacts too: the server tells them as well. */
		if (c->picker != NULL && c->picker->items != NULL)
			json_array_foreach(c->picker->items, i, conv)
				if (jget_int(conv, "user_id") ==
				    jget_int(data, "user_id"))
					json_object_set(conv, "online",
					    json_object_get(data, "online"));
		json_array_foreach(c->convs, i, conv) {
			peer = json_object_get(conv, "peer");
			if (jget_int(peer, "user_id") == jget_int(data, "user_id")) {
				json_object_set(peer, "online", json_object_get(data, "online"));
				json_object_set(peer, "last_seen",
				    json_object_get(data, "last_seen"));
			}
		}
	}
	tui_redraw();
}

/* --- drawing --- */

/* Draws a message's lines bottom-up ending at row bottom; returns rows used
 * (drawing only rows >= top). */
static int
chat_draw_message(json_t *m, const char *who, int own, int read, int bottom, int top,
    int x, int w, int count_only)
{
	char		 head[400], hhmm[6], line[FIELD_MAX * 4 + 8];
	const char	*body = jget_str(m, "body"), *p, *nl;
	char		*lines[200];
	int		 n = 0, i, rows;
	size_t		 len, fit;

	fmt_hhmm(jget_int(m, "created_at"), hhmm);
	snprintf(head, sizeof head, "%s %s%s", hhmm, who, own ? (read ? "  (read)" : "") : "");
	lines[n++] = xstrdup(head);
	for (p = body; p != NULL && n < 200; p = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (len >= sizeof line - 4)
			len = sizeof line - 5;
		memcpy(line, "  ", 2);
		memcpy(line + 2, p, len);
		line[len + 2] = '\0';
		{
			char	*rest = line + 2;

			do {
				char	 piece[sizeof line];
				size_t	 cut;

				fit = text_fit(rest, w - 2);
				cut = fit;
				if (rest[fit] != '\0') {
					size_t	k = fit;

					while (k > 0 && rest[k] != ' ')
						k--;
					if (k > 0)
						cut = k;
				}
				if (cut == 0)
					cut = strlen(rest) > 0 ? 1 : 0;
				snprintf(piece, sizeof piece, "  %.*s", (int)cut, rest);
				if (n < 200)
					lines[n++] = xstrdup(piece);
				rest += cut;
				while (*rest == ' ')
					rest++;
			} while (*rest != '\0');
		}
	}
	rows = n;
	if (!count_only) {
		for (i = 0; i < n; i++) {
			int	y = bottom - (n - 1 - i);

			if (y >= top)
				tui_put(y, x, w, i == 0 ? (own ? tui_attr(TC_DIM) | A_BOLD :
				    tui_attr(TC_TITLE) | A_BOLD) : A_NORMAL, lines[i]);
		}
	}
	for (i = 0; i < n; i++)
		free(lines[i]);
	return rows;
}

static void
chat_draw(struct view *v, int y, int x, int h, int w)
{
	struct chat	*c = v->data;
	json_t		*conv, *peer, *m, *open = chat_conv(c, c->open_id);
	char		 line[600], unread[16];
	int		 i, lw = w >= 100 ? LIST_W + 8 : LIST_W, mx, mw, bottom, skip;
	size_t		 k;
	attr_t		 a;
	int64_t		 peer_read;

	(void)x;
	if (lw > w / 2)
		lw = w / 2;
	tui_put(y, 0, lw, A_BOLD, "Conversations");
	if (c->error[0] != '\0')
		tui_put(y + 1, 0, lw, tui_attr(TC_ERROR), c->error);
	else if (json_array_size(c->convs) == 0)
		tui_put(y + 1, 1, lw - 1, tui_attr(TC_DIM),
		    c->loading ? "loading..." : "none yet; n starts one");
	tlist_fit(&c->list, h - 1);
	for (i = 0; i < h - 1 && c->list.top + i < c->list.n; i++) {
		conv = json_array_get(c->convs, (size_t)(c->list.top + i));
		peer = json_object_get(conv, "peer");
		a = jget_int(conv, "unread") > 0 ? A_BOLD : A_NORMAL;
		if (c->list.top + i == c->list.cur)
			a = c->focus == FOCUS_LIST ? tui_attr(TC_SELECTED) : a | A_REVERSE;
		unread[0] = '\0';
		if (jget_int(conv, "unread") > 0)
			snprintf(unread, sizeof unread, " %lld",
			    (long long)jget_int(conv, "unread"));
		tui_put(y + 1 + i, 0, lw, a, "");
		tui_put(y + 1 + i, 0, 2, json_is_true(json_object_get(peer, "online")) ?
		    tui_attr(TC_OK) | (a & A_REVERSE) : tui_attr(TC_DIM) | (a & A_REVERSE),
		    json_is_true(json_object_get(peer, "online")) ?
		    (tui_utf8() ? " \u25cf" : " *") : "  ");
		tui_put(y + 1 + i, 2, 1, a, "");
		tui_put(y + 1 + i, 3, lw - 4 - (int)strlen(unread), a,
		    jget_str(peer, "full_name"));
		tui_put_right(y + 1 + i, 0, lw - 1, a, unread);
	}
	for (i = 0; i < h; i++)
		tui_vbar(y + i, lw);
	mx = lw + 2;
	mw = w - mx - 1;
	if (open == NULL) {
		tui_put(y + 1, mx, mw, tui_attr(TC_DIM), "No conversation open.");
		return;
	}
	peer = json_object_get(open, "peer");
	snprintf(line, sizeof line, "%s (%s)%s", jget_str(peer, "full_name"),
	    jget_str(peer, "role"), json_is_true(json_object_get(peer, "online")) ?
	    ", online" : "");
	tui_put(y, mx, mw, A_BOLD, line);
	/* Messages upwards from above the input line. */
	bottom = y + h - 3;
	skip = c->scroll;
	peer_read = jget_int(open, "peer_read_id");
	for (k = json_array_size(c->messages); k > 0 && bottom > y; k--) {
		int	own, rows;

		m = json_array_get(c->messages, k - 1);
		own = jget_int(m, "sender_id") == tui_me()->user_id;
		rows = chat_draw_message(m, own ? "you" : jget_str(peer, "full_name"), own,
		    jget_int(m, "id") <= peer_read, bottom, y + 1, mx, mw, 1);
		if (skip >= rows) {
			skip -= rows;
			continue;
		}
		chat_draw_message(m, own ? "you" : jget_str(peer, "full_name"), own,
		    jget_int(m, "id") <= peer_read, bottom + skip, y + 1, mx, mw, 0);
		bottom -= rows - skip;
		skip = 0;
	}
	if (c->typing_at != 0 && time(NULL) - c->typing_at < TYPING_SECONDS) {
		snprintf(line, sizeof line, "%s is typing...", jget_str(peer, "full_name"));
		tui_put(y + h - 2, mx, mw, tui_attr(TC_DIM), line);
	}
	tui_put(y + h - 1, mx, 2, A_BOLD, "> ");
	field_draw(&c->input, y + h - 1, mx + 2, mw - 2, c->focus == FOCUS_INPUT);
}

/* --- keys --- */

static void
chat_focus(struct chat *c, enum chat_focus focus)
{
	c->focus = focus;
	c->view.hints = focus == FOCUS_INPUT ?
	    "Enter send|Esc Tab back to the list|PgUp/PgDn scroll|F1 help" : NULL;
	tui_redraw();
}

static int
chat_key(struct view *v, int key)
{
	struct chat	*c = v->data;
	json_t		*conv;
	int		 before;

	if (key == KF(KEY_NPAGE)) {
		c->scroll -= tui_page();
		if (c->scroll < 0)
			c->scroll = 0;
		return 1;
	}
	if (key == KF(KEY_PPAGE)) {
		c->scroll += tui_page();
		return 1;
	}
	if (key == K_TAB) {
		chat_focus(c, c->focus == FOCUS_LIST ? FOCUS_INPUT : FOCUS_LIST);
		return 1;
	}
	if (c->focus == FOCUS_INPUT) {
		if (key == K_ESC) {
			chat_focus(c, FOCUS_LIST);
			return 1;
		}
		if (K_IS_ENTER(key)) {
			chat_send(c);
			return 1;
		}
		if (key == KF(KEY_F(1)))
			return 0;
		before = (int)c->input.len;
		field_key(&c->input, key);
		if ((int)c->input.len != before && c->open_id != 0 &&
		    time(NULL) - c->typed_at >= TYPING_EVERY) {
			c->typed_at = time(NULL);
			tconn_call("chat.typing", json_pack("{s:I}", "conversation_id",
			    (json_int_t)c->open_id), c, NULL, NULL);
		}
		/* Typing keeps every key, digits too. */
		return 1;
	}
	if (tlist_key(&c->list, key, tui_page())) {
		if ((conv = json_array_get(c->convs, (size_t)c->list.cur)) != NULL &&
		    jget_int(conv, "id") != c->open_id)
			chat_open_conv(c, jget_int(conv, "id"));
		return 1;
	}
	switch (key) {
	case 'n':
		chat_new(c);
		return 1;
	case 'R':
		chat_reload(v);
		return 1;
	}
	if (K_IS_ENTER(key) || key == 'i') {
		if (c->open_id == 0)
			tui_message(1, "No conversation yet; n starts one.");
		else
			chat_focus(c, FOCUS_INPUT);
		return 1;
	}
	return 0;
}

static void
chat_free(struct view *v)
{
	struct chat	*c = v->data;

	if (chat_current == c)
		chat_current = NULL;
	if (c->picker != NULL)
		((struct picker *)c->picker->arg)->c = NULL;
	json_decref(c->convs);
	json_decref(c->messages);
	field_wipe(&c->input);
	free(c);
}

struct view *
ui_chat_new(void)
{
	struct chat	*c = xcalloc(1, sizeof *c);

	c->view.type = &chat_type;
	c->view.data = c;
	c->convs = json_array();
	field_init(&c->input, "body", "");
	snprintf(c->title, sizeof c->title, "Chat");
	chat_current = c;
	chat_reload(&c->view);
	return &c->view;
}

const char *
ui_chat_title(struct view *v)
{
	struct chat	*c = v->data;

	return c->title;
}
