/* ui-login.c -- the login screen: e-mail and password, the server's answer
 * shown in place; the session is kept like `mediflow login` keeps it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "mp.h"
#include "tui.h"
#include "util.h"

struct login {
	struct view	 view;
	struct dialog	*form;
	char		 notice[300];
};

static void	login_draw(struct view *, int, int, int, int);
static int	login_key(struct view *, int);
static void	login_free(struct view *);
static void	login_submit(struct dialog *);
static void	login_done(const struct tconn_reply *, void *);
static void	login_set_text(struct login *);

static const struct help_key login_help[] = {
	{ "Enter", "next field; on the password, log in" },
	{ "Tab Up Down", "move between the fields" },
	{ "Esc F10", "quit" },
	{ NULL, NULL }
};

static const struct view_type login_type = {
	.name = "Log in",
	.draw = login_draw,
	.key = login_key,
	.free = login_free,
	.hints = "Enter log in|Tab next field|Esc quit|F1 help",
	.help = login_help,
};

struct view *
ui_login_new(const char *notice)
{
	struct login	*l = xcalloc(1, sizeof *l);
	struct field	*f;

	l->view.type = &login_type;
	l->view.data = l;
	l->form = dialog_new("Log in", login_submit, l);
	l->form->width = 60;
	l->form->dialog_hints = "Enter log in|Tab next field|Esc quit";
	dialog_field(l->form, "email", "E-mail");
	f = dialog_field(l->form, "password", "Password");
	f->secret = 1;
	if (notice != NULL)
		strlcpy_mf(l->notice, notice, sizeof l->notice);
	login_set_text(l);
	return &l->view;
}

void
ui_login_notice(struct view *v, const char *notice)
{
	struct login	*l = v->data;

	if (v->type != &login_type)
		return;
	strlcpy_mf(l->notice, notice != NULL ? notice : "", sizeof l->notice);
	l->form->busy = 0;
	l->form->note[0] = '\0';
	login_set_text(l);
}

static void
login_set_text(struct login *l)
{
	dialog_text(l->form, "MediFlow, the clinic's front desk.\nServer: %s%s%s",
	    tui_server(), l->notice[0] != '\0' ? "\n\n" : "", l->notice);
}

static void
login_draw(struct view *v, int y, int x, int h, int w)
{
	struct login	*l = v->data;

	l->form->view.type->draw(&l->form->view, y, x, h, w);
}

static int
login_key(struct view *v, int key)
{
	struct login	*l = v->data;

	/* Esc quits from here: there is nothing to go back to. */
	if (key == K_ESC || key == KF(KEY_F(10)) || key == KF(KEY_F(1)))
		return 0;
	return l->form->view.type->key(&l->form->view, key);
}

static void
login_free(struct view *v)
{
	struct login	*l = v->data;

	tconn_cancel(l);
	l->form->view.type->free(&l->form->view);
	free(l);
}

static void
login_submit(struct dialog *d)
{
	struct login	*l = d->arg;
	struct field	*email = dialog_get(d, "email"), *pw = dialog_get(d, "password");
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;

	if (email->len == 0) {
		strlcpy_mf(email->error, "type your e-mail address", sizeof email->error);
		d->focus = 0;
		return;
	}
	if (pw->len == 0) {
		strlcpy_mf(pw->error, "type your password", sizeof pw->error);
		d->focus = 1;
		return;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	mp_pack_kv_str(&pk, "email", email->text);
	mp_pack_kv_str(&pk, "password", pw->text);
	field_wipe(pw);
	d->busy = 1;
	d->error[0] = '\0';
	strlcpy_mf(d->note, "Logging in...", sizeof d->note);
	tconn_call_packed("auth.login", sb.data, sb.size, l, login_done, l);
	sodium_memzero(sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	tui_redraw();
}

static void
login_done(const struct tconn_reply *reply, void *arg)
{
	struct login	*l = arg;

	if (!reply->ok) {
		dialog_fail(l->form, reply);
		if (l->form->error[0] != '\0')
			l->form->focus = 1;
		return;
	}
	strlcpy_mf(l->form->note, "Welcome.", sizeof l->form->note);
	tui_logged_in(reply->result);
}
