/* tui-draw.c -- colours (or attributes on monochrome and NO_COLOR
 * terminals), UTF-8 text cut to columns, local times, list cursors and JSON
 * field access for the screens. */
#include <langinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "tui.h"
#include "util.h"

static attr_t	attrs[TC__COUNT];
static int	colored;
static int	utf8_locale;

struct color_spec {
	short	fg, bg;
	attr_t	color_attr;	/* added to the pair */
	attr_t	mono_attr;	/* without colour */
};

static const struct color_spec color_specs[TC__COUNT] = {
	[TC_NORMAL] = { -1, -1, A_NORMAL, A_NORMAL },
	[TC_BAR] = { COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE },
	[TC_BAR_ACTIVE] = { COLOR_WHITE, COLOR_BLUE, A_BOLD, A_BOLD },
	[TC_SELECTED] = { -1, -1, A_REVERSE | A_BOLD, A_REVERSE | A_BOLD },
	[TC_DIM] = { -1, -1, A_DIM, A_DIM },
	[TC_TITLE] = { -1, -1, A_BOLD, A_BOLD },
	[TC_ERROR] = { COLOR_RED, -1, A_BOLD, A_BOLD },
	[TC_OK] = { COLOR_GREEN, -1, A_NORMAL, A_NORMAL },
	[TC_FREE] = { COLOR_GREEN, -1, A_NORMAL, A_DIM },
	[TC_REQUESTED] = { COLOR_YELLOW, -1, A_BOLD, A_UNDERLINE },
	[TC_APPROVED] = { COLOR_CYAN, -1, A_NORMAL, A_NORMAL },
	[TC_CHECKED_IN] = { COLOR_GREEN, -1, A_BOLD, A_BOLD },
	[TC_IN_PROGRESS] = { COLOR_MAGENTA, -1, A_BOLD, A_BOLD | A_UNDERLINE },
	[TC_COMPLETED] = { -1, -1, A_DIM, A_DIM },
	[TC_NO_SHOW] = { COLOR_RED, -1, A_NORMAL, A_DIM | A_UNDERLINE },
	[TC_CLOSED] = { -1, -1, A_DIM, A_DIM },
	[TC_BORDER] = { COLOR_CYAN, -1, A_NORMAL, A_NORMAL },
};

static const struct {
	const char	*status;
	const char	*label;
	enum tui_color	 color;
	int		 active;
} statuses[] = {
	{ "requested", "requested", TC_REQUESTED, 1 },
	{ "approved", "booked", TC_APPROVED, 1 },
	{ "checked_in", "arrived", TC_CHECKED_IN, 1 },
	{ "in_progress", "in room", TC_IN_PROGRESS, 1 },
	{ "completed", "done", TC_COMPLETED, 0 },
	{ "no_show", "no-show", TC_NO_SHOW, 0 },
	{ "cancelled", "cancelled", TC_CLOSED, 0 },
	{ "rejected", "rejected", TC_CLOSED, 0 },
	{ "rescheduled", "moved", TC_CLOSED, 0 },
};

void
tui_colors_init(void)
{
	const char	*no_color = getenv("NO_COLOR");
	const char	*codeset = nl_langinfo(CODESET);
	int		 i, defaults;

	utf8_locale = codeset != NULL && (strcmp(codeset, "UTF-8") == 0 ||
	    strcmp(codeset, "utf8") == 0);
	colored = (no_color == NULL || *no_color == '\0') && has_colors();
	if (colored && start_color() == ERR)
		colored = 0;
	if (colored && COLORS < 8)
		colored = 0;
	defaults = colored && use_default_colors() == OK;
	for (i = 0; i < TC__COUNT; i++) {
		const struct color_spec	*c = &color_specs[i];

		if (!colored) {
			attrs[i] = c->mono_attr;
			continue;
		}
		if (c->fg == -1 && c->bg == -1) {
			attrs[i] = c->color_attr;
			continue;
		}
		init_pair((short)i, c->fg != -1 ? c->fg : (defaults ? -1 : COLOR_WHITE),
		    c->bg != -1 ? c->bg : (defaults ? -1 : COLOR_BLACK));
		attrs[i] = COLOR_PAIR(i) | c->color_attr;
	}
}

int
tui_has_color(void)
{
	return colored;
}

int
tui_utf8(void)
{
	return utf8_locale;
}

attr_t
tui_attr(enum tui_color c)
{
	return (unsigned)c < TC__COUNT ? attrs[c] : A_NORMAL;
}

enum tui_color
tui_status_color(const char *status)
{
	size_t	i;

	for (i = 0; i < nitems(statuses); i++) {
		if (strcmp(statuses[i].status, status) == 0)
			return statuses[i].color;
	}
	return TC_NORMAL;
}

const char *
tui_status_label(const char *status)
{
	size_t	i;

	for (i = 0; i < nitems(statuses); i++) {
		if (strcmp(statuses[i].status, status) == 0)
			return statuses[i].label;
	}
	return status;
}

int
tui_status_active(const char *status)
{
	size_t	i;

	for (i = 0; i < nitems(statuses); i++) {
		if (strcmp(statuses[i].status, status) == 0)
			return statuses[i].active;
	}
	return 0;
}

/* --- text --- */

/* Decodes one UTF-8 character; bad bytes come out as U+FFFD, one each. */
static wchar_t
utf8_next(const char **p)
{
	const unsigned char	*s = (const unsigned char *)*p;
	unsigned int		 c = s[0], need, i;
	wchar_t			 wc;

	if (c < 0x80) {
		*p += 1;
		return (wchar_t)c;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		wc = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		wc = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		wc = c & 0x07;
	} else {
		*p += 1;
		return 0xfffd;
	}
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*p += 1;
			return 0xfffd;
		}
		wc = (wc << 6) | (s[i] & 0x3f);
	}
	*p += need + 1;
	return wc;
}

/* A printable character and its columns: control characters and, outside
 * a UTF-8 locale, everything beyond ASCII becomes '?'. */
static wchar_t
printable(wchar_t wc, int *cols)
{
	int	w;

	if (wc < 0x20 || wc == 0x7f || (wc >= 0x80 && wc < 0xa0)) {
		*cols = 1;
		return L'?';
	}
	if (wc >= 0x80 && !utf8_locale) {
		*cols = 1;
		return L'?';
	}
	w = wcwidth(wc);
	if (w < 0) {
		*cols = 1;
		return L'?';
	}
	*cols = w;
	return wc;
}

int
tui_text_width(const char *s)
{
	int	total = 0, w;

	if (s == NULL)
		return 0;
	while (*s != '\0') {
		printable(utf8_next(&s), &w);
		total += w;
	}
	return total;
}

size_t
text_fit(const char *s, int cols)
{
	const char	*p = s;
	int		 w = 0, cw;

	while (*p != '\0') {
		const char	*before = p;

		printable(utf8_next(&p), &cw);
		if (w + cw > cols)
			return (size_t)(before - s);
		w += cw;
	}
	return (size_t)(p - s);
}

void
text_pad(char *out, size_t len, const char *s, int cols)
{
	const char	*p = s, *before;
	size_t		 used = 0, n;
	int		 w = 0, cw;

	if (len == 0)
		return;
	while (s != NULL && *p != '\0') {
		before = p;
		printable(utf8_next(&p), &cw);
		n = (size_t)(p - before);
		if (w + cw > cols || used + n >= len)
			break;
		memcpy(out + used, before, n);
		used += n;
		w += cw;
	}
	while (w < cols && used + 1 < len) {
		out[used++] = ' ';
		w++;
	}
	out[used] = '\0';
}

int
tui_put(int y, int x, int w, attr_t a, const char *s)
{
	wchar_t	 buf[512];
	int	 widths[512];
	int	 n = 0, used = 0, cw, cut = 0, i;
	wchar_t	 wc;

	if (w <= 0 || y < 0 || x < 0 || y >= LINES || x >= COLS)
		return 0;
	if (x + w > COLS)
		w = COLS - x;
	while (s != NULL && *s != '\0' && n < (int)nitems(buf) - 1) {
		wc = printable(utf8_next(&s), &cw);
		if (used + cw > w) {
			cut = 1;
			break;
		}
		buf[n] = wc;
		widths[n++] = cw;
		used += cw;
	}
	if (cut) {
		while (n > 0 && used + 1 > w) {
			used -= widths[--n];
		}
		buf[n++] = utf8_locale ? 0x2026 : L'~';
		used++;
	}
	attrset(a);
	if (n > 0)
		mvaddnwstr(y, x, buf, n);
	else
		move(y, x);
	for (i = used; i < w; i++)
		addch(' ');
	attrset(A_NORMAL);
	return used;
}

int
tui_putf(int y, int x, int w, attr_t a, const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return tui_put(y, x, w, a, buf);
}

void
tui_put_right(int y, int x, int w, attr_t a, const char *s)
{
	int	tw = tui_text_width(s);

	if (tw > w)
		tw = w;
	tui_put(y, x + w - tw, tw, a, s);
}

void
tui_fill(int y, int x, int h, int w, attr_t a)
{
	int	i;

	for (i = 0; i < h; i++)
		tui_put(y + i, x, w, a, "");
}

/* Line drawing: Unicode in a UTF-8 locale (what terminals and tmux show
 * alike), the terminal's alternate character set elsewhere. */
enum line_part { LP_H, LP_V, LP_UL, LP_UR, LP_LL, LP_LR };

static void
line_part(int y, int x, enum line_part p)
{
	static const wchar_t	uni[] = { 0x2500, 0x2502, 0x250c, 0x2510, 0x2514, 0x2518 };
	chtype			acs;
	wchar_t			wc[2];

	if (y < 0 || x < 0 || y >= LINES || x >= COLS)
		return;
	if (utf8_locale) {
		wc[0] = uni[p];
		wc[1] = L'\0';
		mvaddnwstr(y, x, wc, 1);
		return;
	}
	switch (p) {
	case LP_H:
		acs = ACS_HLINE;
		break;
	case LP_V:
		acs = ACS_VLINE;
		break;
	case LP_UL:
		acs = ACS_ULCORNER;
		break;
	case LP_UR:
		acs = ACS_URCORNER;
		break;
	case LP_LL:
		acs = ACS_LLCORNER;
		break;
	default:
		acs = ACS_LRCORNER;
		break;
	}
	mvaddch(y, x, acs);
}

void
tui_vbar(int y, int x)
{
	attrset(tui_attr(TC_BORDER));
	line_part(y, x, LP_V);
	attrset(A_NORMAL);
}

void
tui_hline(int y, int x, int w)
{
	int	i;

	attrset(tui_attr(TC_BORDER));
	for (i = 0; i < w; i++)
		line_part(y, x + i, LP_H);
	attrset(A_NORMAL);
}

void
tui_box(int y, int x, int h, int w, const char *title)
{
	int	i;

	if (h < 2 || w < 2)
		return;
	tui_fill(y, x, h, w, A_NORMAL);
	attrset(tui_attr(TC_BORDER));
	line_part(y, x, LP_UL);
	line_part(y, x + w - 1, LP_UR);
	line_part(y + h - 1, x, LP_LL);
	line_part(y + h - 1, x + w - 1, LP_LR);
	for (i = 1; i < w - 1; i++) {
		line_part(y, x + i, LP_H);
		line_part(y + h - 1, x + i, LP_H);
	}
	for (i = 1; i < h - 1; i++) {
		line_part(y + i, x, LP_V);
		line_part(y + i, x + w - 1, LP_V);
	}
	attrset(A_NORMAL);
	if (title != NULL && *title != '\0' && w > 6) {
		char	t[200];
		int	tw;

		snprintf(t, sizeof t, " %s ", title);
		tw = tui_text_width(t);
		tui_put(y, x + 2, tw < w - 4 ? tw : w - 4, tui_attr(TC_TITLE), t);
	}
}

/* "Enter book|c check in|? help": the first word of each item is the key. */
void
tui_hints(int y, int x, int w, attr_t a, const char *hints)
{
	char		 item[128], *sp;
	const char	*p = hints, *bar;
	int		 used = 0, kw, dw;
	size_t		 n;

	tui_put(y, x, w, a, "");
	while (p != NULL && *p != '\0') {
		bar = strchr(p, '|');
		n = bar != NULL ? (size_t)(bar - p) : strlen(p);
		if (n >= sizeof item)
			n = sizeof item - 1;
		memcpy(item, p, n);
		item[n] = '\0';
		p = bar != NULL ? bar + 1 : NULL;
		sp = strchr(item, ' ');
		if (sp != NULL)
			*sp++ = '\0';
		kw = tui_text_width(item);
		dw = sp != NULL ? tui_text_width(sp) + 1 : 0;
		if (used + kw + dw + (used > 0 ? 2 : 0) > w)
			break;
		if (used > 0)
			used += 2;
		tui_put(y, x + used, kw, a | A_BOLD, item);
		used += kw;
		if (sp != NULL) {
			tui_put(y, x + used, dw, a, "");
			tui_put(y, x + used + 1, dw - 1, a, sp);
			used += dw;
		}
	}
}

/* --- time --- */

void
fmt_hhmm(int64_t t, char out[6])
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	localtime_r(&tt, &tm);
	snprintf(out, 6, "%02u:%02u", (unsigned)tm.tm_hour % 100u,
	    (unsigned)tm.tm_min % 100u);
}

void
fmt_date(int64_t t, char out[11])
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	localtime_r(&tt, &tm);
	snprintf(out, 11, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
	    (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
}

static int
date_parse_tm(const char *date, struct tm *tm)
{
	int	y, m, d;

	if (sscanf(date, "%4d-%2d-%2d", &y, &m, &d) != 3)
		return -1;
	memset(tm, 0, sizeof *tm);
	tm->tm_year = y - 1900;
	tm->tm_mon = m - 1;
	tm->tm_mday = d;
	tm->tm_hour = 12;
	return 0;
}

void
fmt_date_label(const char *date, char *out, size_t len)
{
	struct tm	tm;
	time_t		t;

	if (date_parse_tm(date, &tm) != 0) {
		snprintf(out, len, "%s", date);
		return;
	}
	t = timegm(&tm);
	gmtime_r(&t, &tm);
	strftime(out, len, "%a %d %b %Y", &tm);
}

void
fmt_when(int64_t t, char *out, size_t len)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	localtime_r(&tt, &tm);
	strftime(out, len, "%a %d %b %H:%M", &tm);
}

void
tui_today(char out[11])
{
	fmt_date(tui_now(), out);
}

void
date_shift(char date[11], int days)
{
	struct tm	tm;
	time_t		t;

	if (date_parse_tm(date, &tm) != 0)
		return;
	tm.tm_mday += days;
	t = timegm(&tm);
	gmtime_r(&t, &tm);
	snprintf(date, 11, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
	    (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
}

int64_t
date_start(const char *date)
{
	struct tm	tm;

	if (date_parse_tm(date, &tm) != 0)
		return 0;
	tm.tm_hour = 0;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm);
}

/* --- JSON --- */

const char *
jget_str(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

int64_t
jget_int(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

json_t *
jget_array(json_t *o, const char *key)
{
	static json_t	*empty;
	json_t		*v = json_object_get(o, key);

	if (json_is_array(v))
		return v;
	if (empty == NULL)
		empty = json_array();
	return empty;
}

/* --- lists --- */

int
tlist_key(struct tlist *l, int key, int page)
{
	if (page < 1)
		page = 1;
	switch (key) {
	case 'j':
	case KF(KEY_DOWN):
		l->cur++;
		break;
	case 'k':
	case KF(KEY_UP):
		l->cur--;
		break;
	case KF(KEY_NPAGE):
	case KEY_CTL('f'):
		l->cur += page;
		break;
	case KF(KEY_PPAGE):
	case KEY_CTL('b'):
		l->cur -= page;
		break;
	case 'g':
	case KF(KEY_HOME):
		l->cur = 0;
		break;
	case 'G':
	case KF(KEY_END):
		l->cur = l->n - 1;
		break;
	default:
		return 0;
	}
	tlist_set_count(l, l->n);
	return 1;
}

void
tlist_set_count(struct tlist *l, int n)
{
	l->n = n;
	if (l->cur >= n)
		l->cur = n - 1;
	if (l->cur < 0)
		l->cur = 0;
}

void
tlist_fit(struct tlist *l, int rows)
{
	if (rows < 1)
		rows = 1;
	if (l->cur < l->top)
		l->top = l->cur;
	if (l->cur >= l->top + rows)
		l->top = l->cur - rows + 1;
	if (l->top > l->n - rows)
		l->top = l->n - rows;
	if (l->top < 0)
		l->top = 0;
}
