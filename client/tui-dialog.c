/* tui-dialog.c -- single-line text fields and the dialog every popup is
 * made of: a title, some text, fields, an optional list to pick from (or one
 * an op fills, dialog_list), and the server's errors shown beside the field
 * they name. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tui.h"
#include "util.h"

static void	dialog_draw(struct view *, int, int, int, int);
static int	dialog_key(struct view *, int);
static void	dialog_free(struct view *);
static void	dialog_list_loaded(const struct tconn_reply *, void *);

/* What dialog_list loads its items from. */
struct dialog_source {
	char	*op;
	char	*key;
	json_t	*args;
	void	(*loaded)(struct dialog *, json_t *);
};

static const struct help_key dialog_help[] = {
	{ "Enter", "confirm, or go to the next field" },
	{ "Tab S-Tab", "next / previous field" },
	{ "Up Down", "move in the list" },
	{ "Esc", "cancel and close" },
	{ "Left Right", "move in the text; change a choice" },
	{ "C-u C-w C-k", "clear the line / word / to the end" },
	{ NULL, NULL }
};

static const struct view_type dialog_view_type = {
	.name = "dialog",
	.draw = dialog_draw,
	.key = dialog_key,
	.free = dialog_free,
	.hints = "Enter ok|Esc cancel|Tab next field",
	.help = dialog_help,
};

/* --- fields --- */

void
field_init(struct field *f, const char *name, const char *label)
{
	memset(f, 0, sizeof *f);
	f->name = name;
	f->label = label;
}

void
field_set(struct field *f, const char *s)
{
	strlcpy_mf(f->text, s != NULL ? s : "", sizeof f->text);
	f->len = f->pos = strlen(f->text);
}

void
field_wipe(struct field *f)
{
	sodium_memzero(f->text, sizeof f->text);
	f->len = f->pos = 0;
}

const char *
field_value(const struct field *f)
{
	if (f->choices != NULL)
		return f->choices[f->choice];
	return f->text;
}

static size_t
utf8_prev(const char *s, size_t pos)
{
	if (pos == 0)
		return 0;
	pos--;
	while (pos > 0 && ((unsigned char)s[pos] & 0xc0) == 0x80)
		pos--;
	return pos;
}

static size_t
utf8_after(const char *s, size_t len, size_t pos)
{
	if (pos >= len)
		return len;
	pos++;
	while (pos < len && ((unsigned char)s[pos] & 0xc0) == 0x80)
		pos++;
	return pos;
}

static size_t
utf8_encode(int c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		if (c >= 0xd800 && c <= 0xdfff)
			return 0;
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	if (c < 0x110000) {
		out[0] = (char)(0xf0 | (c >> 18));
		out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[3] = (char)(0x80 | (c & 0x3f));
		return 4;
	}
	return 0;
}

static void
field_delete(struct field *f, size_t from, size_t to)
{
	memmove(f->text + from, f->text + to, f->len - to + 1);
	f->len -= to - from;
	if (f->pos > to)
		f->pos -= to - from;
	else if (f->pos > from)
		f->pos = from;
}

static int
field_choice_key(struct field *f, int key)
{
	int	n = 0, i;

	while (f->choices[n] != NULL)
		n++;
	if (key == KF(KEY_RIGHT) || key == ' ') {
		f->choice = (f->choice + 1) % n;
		return 1;
	}
	if (key == KF(KEY_LEFT)) {
		f->choice = (f->choice + n - 1) % n;
		return 1;
	}
	if (key > ' ' && key < 0x80) {
		for (i = 1; i <= n; i++) {
			int	c = (f->choice + i) % n;

			if (f->choices[c][0] == key) {
				f->choice = c;
				return 1;
			}
		}
		return 1;
	}
	return 0;
}

int
field_key(struct field *f, int key)
{
	char	enc[4];
	size_t	n, p;

	if (f->choices != NULL)
		return field_choice_key(f, key);
	if (!(key & KEYF) && key >= 0x20 && key != 0x7f) {
		if ((n = utf8_encode(key, enc)) == 0 || f->len + n >= sizeof f->text)
			return 1;
		memmove(f->text + f->pos + n, f->text + f->pos, f->len - f->pos + 1);
		memcpy(f->text + f->pos, enc, n);
		f->len += n;
		f->pos += n;
		return 1;
	}
	if (K_IS_BACKSPACE(key)) {
		if (f->pos > 0)
			field_delete(f, utf8_prev(f->text, f->pos), f->pos);
		return 1;
	}
	switch (key) {
	case KF(KEY_DC):
	case KEY_CTL('d'):
		if (f->pos < f->len)
			field_delete(f, f->pos, utf8_after(f->text, f->len, f->pos));
		return 1;
	case KF(KEY_LEFT):
	case KEY_CTL('b'):
		f->pos = utf8_prev(f->text, f->pos);
		return 1;
	case KF(KEY_RIGHT):
	case KEY_CTL('f'):
		f->pos = utf8_after(f->text, f->len, f->pos);
		return 1;
	case KF(KEY_HOME):
	case KEY_CTL('a'):
		f->pos = 0;
		return 1;
	case KF(KEY_END):
	case KEY_CTL('e'):
		f->pos = f->len;
		return 1;
	case KEY_CTL('u'):
		field_delete(f, 0, f->pos);
		return 1;
	case KEY_CTL('k'):
		field_delete(f, f->pos, f->len);
		return 1;
	case KEY_CTL('w'):
		p = f->pos;
		while (p > 0 && f->text[p - 1] == ' ')
			p--;
		while (p > 0 && f->text[p - 1] != ' ')
			p--;
		field_delete(f, p, f->pos);
		return 1;
	}
	return 0;
}

void
field_draw(struct field *f, int y, int x, int w, int focused)
{
	attr_t		 a = focused ? tui_attr(TC_SELECTED) & ~A_BOLD : A_UNDERLINE;
	char		 shown[FIELD_MAX * 2], choice[200];
	const char	*p;
	size_t		 start, off;
	int		 col;

	if (w < 4)
		return;
	if (f->choices != NULL) {
		snprintf(choice, sizeof choice, "< %s >", f->choices[f->choice]);
		tui_put(y, x, w, a, choice);
		if (focused)
			tui_set_cursor(y, x + 2);
		return;
	}
	if (f->secret) {
		/* One star per character, so the cursor math is the same. */
		size_t	i, n = 0;

		for (i = 0; i < f->len; i = utf8_after(f->text, f->len, i))
			shown[n++] = '*';
		shown[n] = '\0';
		start = 0;
		col = 0;
		for (i = 0; i < f->pos; i = utf8_after(f->text, f->len, i))
			col++;
		if (col >= w - 1) {
			start = (size_t)(col - (w - 2));
			col = w - 2;
		}
		tui_put(y, x, w, a, shown + start);
		if (focused)
			tui_set_cursor(y, x + col);
		return;
	}
	/* Scroll so the cursor stays inside the box. */
	start = 0;
	for (;;) {
		char	save = f->text[f->pos];

		f->text[f->pos] = '\0';
		col = tui_text_width(f->text + start);
		f->text[f->pos] = save;
		if (col < w - 1 || start >= f->pos)
			break;
		start = utf8_after(f->text, f->len, start);
	}
	off = 0;
	for (p = f->text + start; *p != '\0' && off < sizeof shown - 1; p++)
		shown[off++] = *p;
	shown[off] = '\0';
	tui_put(y, x, w, a, shown);
	if (focused)
		tui_set_cursor(y, x + col);
}

/* --- dialogs --- */

struct dialog *
dialog_new(const char *title, dialog_fn submit, void *arg)
{
	struct dialog	*d = xcalloc(1, sizeof *d);

	d->view.type = &dialog_view_type;
	d->view.data = d;
	strlcpy_mf(d->title, title, sizeof d->title);
	d->submit = submit;
	d->arg = arg;
	return d;
}

struct field *
dialog_field(struct dialog *d, const char *name, const char *label)
{
	struct field	*f;

	if (d->nfields >= DIALOG_FIELDS)
		abort();
	f = &d->fields[d->nfields++];
	field_init(f, name, label);
	return f;
}

struct field *
dialog_get(struct dialog *d, const char *name)
{
	int	i;

	for (i = 0; i < d->nfields; i++) {
		if (d->fields[i].name != NULL && strcmp(d->fields[i].name, name) == 0)
			return &d->fields[i];
	}
	return NULL;
}

void
dialog_text(struct dialog *d, const char *fmt, ...)
{
	va_list	ap;

	free(d->text);
	va_start(ap, fmt);
	d->text = xvasprintf(fmt, ap);
	va_end(ap);
	tui_redraw();
}

void
dialog_open(struct dialog *d)
{
	if (d->items != NULL && d->list_rows == 0)
		d->list_rows = 8;
	tui_push(&d->view);
}

void
dialog_close(struct dialog *d)
{
	tui_pop(&d->view);
}

void
dialog_set_items(struct dialog *d, json_t *items)
{
	json_decref(d->items);
	d->items = items;
	tlist_set_count(&d->list, (int)json_array_size(items));
	tui_redraw();
}

json_t *
dialog_selected(struct dialog *d)
{
	if (d->items == NULL || d->list.cur < 0 ||
	    (size_t)d->list.cur >= json_array_size(d->items))
		return NULL;
	return json_array_get(d->items, (size_t)d->list.cur);
}

void
dialog_fail(struct dialog *d, const struct tconn_reply *reply)
{
	const char	*msg = reply->message, *colon;
	int		 i;

	d->busy = 0;
	d->failed = 1;
	d->note[0] = '\0';
	d->error[0] = '\0';
	colon = strstr(msg, ": ");
	for (i = 0; colon != NULL && i < d->nfields; i++) {
		struct field	*f = &d->fields[i];

		if (f->name != NULL && strlen(f->name) == (size_t)(colon - msg) &&
		    strncmp(f->name, msg, strlen(f->name)) == 0) {
			strlcpy_mf(f->error, colon + 2, sizeof f->error);
			d->focus = i;
			tui_redraw();
			return;
		}
	}
	strlcpy_mf(d->error, *msg != '\0' ? msg : reply->code, sizeof d->error);
	tui_redraw();
}

struct dialog *
dialog_confirm(const char *title, const char *text, dialog_fn yes, void *arg)
{
	struct dialog	*d = dialog_new(title, yes, arg);

	dialog_text(d, "%s", text);
	d->confirm = 1;
	d->dialog_hints = "y yes|n no";
	dialog_open(d);
	return d;
}

void
dialog_message(const char *title, const char *fmt, ...)
{
	struct dialog	*d = dialog_new(title, NULL, NULL);
	va_list		 ap;

	va_start(ap, fmt);
	d->text = xvasprintf(fmt, ap);
	va_end(ap);
	d->message = 1;
	d->dialog_hints = "Enter close";
	dialog_open(d);
}

/* --- lists an op fills --- */

struct dialog *
dialog_list(const char *title, const char *op, const char *key,
    void (*loaded)(struct dialog *, json_t *))
{
	struct dialog	*d = dialog_new(title, NULL, NULL);

	d->source = xcalloc(1, sizeof *d->source);
	d->source->op = xstrdup(op);
	d->source->key = xstrdup(key);
	d->source->loaded = loaded;
	d->items = json_array();
	d->list_rows = 10;
	d->width = 78;
	strlcpy_mf(d->note, "Loading...", sizeof d->note);
	dialog_open(d);
	return d;
}

void
dialog_list_load(struct dialog *d, json_t *args)
{
	struct dialog_source	*src = d->source;

	if (args != NULL) {
		json_decref(src->args);
		src->args = args;
	}
	tconn_call(src->op, src->args != NULL ? json_incref(src->args) : NULL, d,
	    dialog_list_loaded, d);
}

static void
dialog_list_loaded(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;

	if (!reply->ok) {
		strlcpy_mf(d->error, reply->message, sizeof d->error);
		tui_redraw();
		return;
	}
	d->error[0] = '\0';
	dialog_set_items(d, json_incref(jget_array(reply->result, d->source->key)));
	if (d->source->loaded != NULL)
		d->source->loaded(d, reply->result);
	tui_redraw();
}

static void
dialog_free(struct view *v)
{
	struct dialog	*d = v->data;
	int		 i;

	if (d->closed != NULL)
		d->closed(d);
	if (d->source != NULL) {
		/* A load still on its way must not land in a freed dialog. */
		tconn_cancel(d);
		free(d->source->op);
		free(d->source->key);
		json_decref(d->source->args);
		free(d->source);
	}
	for (i = 0; i < d->nfields; i++)
		field_wipe(&d->fields[i]);
	json_decref(d->items);
	free(d->text);
	free(d);
}

static void
dialog_changed(struct dialog *d, struct field *f)
{
	f->error[0] = '\0';
	d->error[0] = '\0';
	if (d->changed != NULL)
		d->changed(d);
}

static int
dialog_key(struct view *v, int key)
{
	struct dialog	*d = v->data;
	struct field	*f = d->focus < d->nfields ? &d->fields[d->focus] : NULL;
	char		 before[FIELD_MAX];
	int		 choice;

	if (key == KF(KEY_F(1)))
		return 0;
	if (d->message) {
		dialog_close(d);
		return 1;
	}
	if (d->confirm) {
		if (d->busy) {
			if (key == K_ESC)
				dialog_close(d);
			return 1;
		}
		if (key == 'y' || key == 'Y' || K_IS_ENTER(key)) {
			if (d->submit != NULL)
				d->submit(d);
			else
				dialog_close(d);
		} else if (key == 'n' || key == 'N' || key == K_ESC || key == 'q')
			dialog_close(d);
		else if (key == '?')
			return 0;
		else if (d->extra_key != NULL)
			d->extra_key(d, key);
		return 1;
	}
	if (d->extra_key != NULL && d->extra_key(d, key))
		return 1;
	if (d->source != NULL && key == 'R' && f == NULL) {
		dialog_list_load(d, NULL);
		return 1;
	}
	if (key == K_ESC || (key == 'q' && f == NULL)) {
		dialog_close(d);
		return 1;
	}
	if (d->busy)
		return 1;
	if (K_IS_ENTER(key)) {
		if (d->items == NULL && d->focus < d->nfields - 1 && !d->failed)
			d->focus++;
		else if (d->submit != NULL)
			d->submit(d);
		else
			dialog_close(d);
		tui_redraw();
		return 1;
	}
	if (key == K_TAB || (d->items == NULL && key == KF(KEY_DOWN))) {
		if (d->nfields > 0)
			d->focus = (d->focus + 1) % d->nfields;
		return 1;
	}
	if (key == KF(KEY_BTAB) || (d->items == NULL && key == KF(KEY_UP))) {
		if (d->nfields > 0)
			d->focus = (d->focus + d->nfields - 1) % d->nfields;
		return 1;
	}
	if (d->items != NULL && (f == NULL || key == KF(KEY_UP) ||
	    key == KF(KEY_DOWN) || key == KF(KEY_NPAGE) || key == KF(KEY_PPAGE))) {
		if (tlist_key(&d->list, key, d->list_rows))
			return 1;
	}
	if (f != NULL) {
		strlcpy_mf(before, f->text, sizeof before);
		choice = f->choice;
		if (field_key(f, key)) {
			if (strcmp(before, f->text) != 0 || choice != f->choice)
				dialog_changed(d, f);
			sodium_memzero(before, sizeof before);
			return 1;
		}
		sodium_memzero(before, sizeof before);
	}
	if (key == '?' && f == NULL)
		return 0;
	/* A popup keeps the keys to itself. */
	return 1;
}

/* Splits text into lines of at most w columns at spaces; returns the count
 * and, when lines is not NULL, allocated copies. */
static int
wrap_text(const char *text, int w, char **lines, int max)
{
	const char	*p = text, *nl;
	char		 line[1024], word[512];
	int		 n = 0;

	while (p != NULL && *p != '\0' && n < max) {
		size_t	len;
		char	para[1024];
		char	*s, *save = NULL;

		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (len >= sizeof para)
			len = sizeof para - 1;
		memcpy(para, p, len);
		para[len] = '\0';
		p = nl != NULL ? nl + 1 : NULL;
		line[0] = '\0';
		/* A line that fits stays as it is: runs of spaces line up
		 * columns (a prescription's printable text). */
		if (para[0] == '\0' || tui_text_width(para) <= w) {
			if (lines != NULL)
				lines[n] = xstrdup(para);
			n++;
			continue;
		}
		/* Leading spaces are kept: they indent columns of figures. */
		for (s = strtok_r(para, " ", &save); s != NULL && n < max;
		    s = strtok_r(NULL, " ", &save)) {
			strlcpy_mf(word, s, sizeof word);
			if (line[0] != '\0' && tui_text_width(line) + 1 +
			    tui_text_width(word) > w) {
				if (lines != NULL)
					lines[n] = xstrdup(line);
				n++;
				line[0] = '\0';
			}
			if (line[0] != '\0')
				strlcpy_mf(line + strlen(line), " ",
				    sizeof line - strlen(line));
			strlcpy_mf(line + strlen(line), word, sizeof line - strlen(line));
		}
		if (line[0] != '\0' && n < max) {
			if (lines != NULL)
				lines[n] = xstrdup(line);
			n++;
		}
	}
	return n;
}

static void
dialog_draw(struct view *v, int y0, int x0, int h0, int w0)
{
	struct dialog	*d = v->data;
	char		*lines[64], label[512];
	int		 w, h, y, x, i, nlines, label_w = 0, field_w, rows, list_rows;
	attr_t		 a;

	w = d->width > 0 ? d->width : 64;
	if (w > w0 - 2)
		w = w0 - 2;
	if (w < 20)
		w = w0;
	nlines = d->text != NULL ? wrap_text(d->text, w - 4, NULL, 64) : 0;
	for (i = 0; i < d->nfields; i++) {
		int	lw = tui_text_width(d->fields[i].label);

		if (lw > label_w)
			label_w = lw;
	}
	if (label_w > w / 3)
		label_w = w / 3;
	/* Height: borders, text, fields (with their errors), list, error, hints. */
	h = 2 + nlines + (nlines > 0 && (d->nfields > 0 || d->items != NULL));
	for (i = 0; i < d->nfields; i++)
		h += 1 + (d->fields[i].error[0] != '\0');
	list_rows = 0;
	if (d->items != NULL) {
		list_rows = d->list_rows > 0 ? d->list_rows : 8;
		h += list_rows + (d->nfields > 0);
	}
	h += 1 + ((d->error[0] != '\0' || d->note[0] != '\0') ? 1 : 0) + 1;
	if (h > h0) {
		int	over = h - h0;

		if (list_rows > 2) {
			int	cut = over < list_rows - 2 ? over : list_rows - 2;

			list_rows -= cut;
			h -= cut;
			over -= cut;
		}
		if (over > 0 && nlines > over) {
			nlines -= over;
			h -= over;
		}
		if (h > h0)
			h = h0;
	}
	y = y0 + (h0 - h) / 2;
	x = x0 + (w0 - w) / 2;
	tui_box(y, x, h, w, d->title);
	rows = y + 1;
	if (nlines > 0) {
		int	total = wrap_text(d->text, w - 4, lines, 64);

		for (i = 0; i < total; i++) {
			if (i < nlines)
				tui_put(rows++, x + 2, w - 4, A_NORMAL, lines[i]);
			free(lines[i]);
		}
		if (d->nfields > 0 || d->items != NULL)
			rows++;
	}
	field_w = w - 4 - label_w - 2;
	for (i = 0; i < d->nfields && rows < y + h - 2; i++) {
		struct field	*f = &d->fields[i];

		snprintf(label, sizeof label, "%s", f->label != NULL ? f->label : "");
		tui_put(rows, x + 2, label_w, d->focus == i ? A_BOLD : A_NORMAL, label);
		field_draw(f, rows, x + 4 + label_w, field_w, d->focus == i && !d->busy);
		rows++;
		if (f->error[0] != '\0' && rows < y + h - 2)
			tui_put(rows++, x + 4 + label_w, field_w, tui_attr(TC_ERROR),
			    f->error);
	}
	if (d->items != NULL) {
		if (d->nfields > 0)
			rows++;
		tlist_fit(&d->list, list_rows);
		if (d->list.n == 0)
			tui_put(rows, x + 2, w - 4, tui_attr(TC_DIM),
			    d->note[0] != '\0' ? "" : "(nothing to show)");
		for (i = 0; i < list_rows; i++) {
			int	idx = d->list.top + i;
			json_t	*item;

			if (idx >= d->list.n)
				break;
			item = json_array_get(d->items, (size_t)idx);
			label[0] = '\0';
			a = A_NORMAL;
			if (d->item_label != NULL)
				d->item_label(d, item, label, sizeof label, &a);
			else if (json_is_string(item))
				strlcpy_mf(label, json_string_value(item), sizeof label);
			if (idx == d->list.cur)
				a = tui_attr(TC_SELECTED);
			tui_put(rows + i, x + 2, 2, a, idx == d->list.cur ? ">" : "");
			tui_put(rows + i, x + 4, w - 6, a, label);
		}
		rows += list_rows;
	}
	rows = y + h - 2;
	if (d->error[0] != '\0')
		tui_put(rows - 1, x + 2, w - 4, tui_attr(TC_ERROR), d->error);
	else if (d->note[0] != '\0')
		tui_put(rows - 1, x + 2, w - 4, tui_attr(TC_DIM), d->note);
	tui_hints(rows, x + 2, w - 4, tui_attr(TC_DIM),
	    d->busy ? "... working|Esc close" :
	    d->dialog_hints != NULL ? d->dialog_hints : dialog_view_type.hints);
}
