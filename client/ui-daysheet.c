/* ui-daysheet.c -- a doctor's day on paper: the appointments of one day as
 * plain text, written to a file (asked, with a default in the home
 * directory) or handed to lpr when the machine has it. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"
#include "util.h"

#define SHEET_NAME_W	26
#define SHEET_STATUS_W	12

struct daysheet {
	int64_t	 doctor_id;
	char	 doctor[128];
	char	 date[11];
	char	*text;
	int	 count;
};

static const char *const to_file_or_printer[] = { "file", "printer (lpr)", NULL };

/* 1 when an executable lpr is on the PATH. */
static int
have_lpr(void)
{
	const char	*path = getenv("PATH");
	char		 dir[1024], file[1100];
	const char	*p, *colon;
	size_t		 len;

	for (p = path; p != NULL && *p != '\0'; p = colon != NULL ? colon + 1 : NULL) {
		colon = strchr(p, ':');
		len = colon != NULL ? (size_t)(colon - p) : strlen(p);
		if (len == 0 || len >= sizeof dir)
			continue;
		memcpy(dir, p, len);
		dir[len] = '\0';
		snprintf(file, sizeof file, "%s/lpr", dir);
		if (access(file, X_OK) == 0)
			return 1;
	}
	return 0;
}

/* "Dr. Sarah Chen" -> "dr-sarah-chen": a file name's part, ASCII only. */
static void
slug(const char *s, char *out, size_t len)
{
	size_t	n = 0;
	int	dash = 0;

	for (; *s != '\0' && n + 2 < len; s++) {
		unsigned char	c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			out[n++] = (char)c;
			dash = 0;
		} else if (c >= 'A' && c <= 'Z') {
			out[n++] = (char)(c - 'A' + 'a');
			dash = 0;
		} else if (n > 0 && !dash) {
			out[n++] = '-';
			dash = 1;
		}
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n == 0)
		strlcpy_mf(out, "doctor", len);
}

/* Statuses that belong on the sheet: the visits that happen or happened. */
static int
on_sheet(const char *status)
{
	return tui_status_active(status) || strcmp(status, "completed") == 0 ||
	    strcmp(status, "no_show") == 0;
}

/* The sheet's text (allocated); count gets the number of appointments. */
static char *
sheet_text(struct daysheet *ds, json_t *appts, int *count)
{
	char		*out = NULL, label[40], from[6], to[6], printed[40];
	char		 name[300], status[64];
	size_t		 size = 0;
	FILE		*f = open_memstream(&out, &size);
	json_t		*a;
	size_t		 i;
	int		 n = 0;

	if (f == NULL)
		abort();
	fmt_date_label(ds->date, label, sizeof label);
	fmt_when(tui_now(), printed, sizeof printed);
	fprintf(f, "MediFlow day sheet\n%s - %s\nPrinted %s by %s\n\n", ds->doctor, label,
	    printed, tui_me()->full_name);
	text_pad(name, sizeof name, "Patient", SHEET_NAME_W);
	text_pad(status, sizeof status, "Status", SHEET_STATUS_W);
	fprintf(f, "%-11s  %s %s %s\n", "Time", name, status, "Reason");
	fprintf(f, "-----------  -------------------------- ------------ ----------------------\n");
	json_array_foreach(appts, i, a) {
		if (!on_sheet(jget_str(a, "status")))
			continue;
		fmt_hhmm(jget_int(a, "starts_at"), from);
		fmt_hhmm(jget_int(a, "ends_at"), to);
		text_pad(name, sizeof name, jget_str(a, "patient_name"), SHEET_NAME_W);
		text_pad(status, sizeof status, tui_status_label(jget_str(a, "status")),
		    SHEET_STATUS_W);
		fprintf(f, "%s-%s  %s %s %s\n", from, to, name, status,
		    *jget_str(a, "reason") != '\0' ? jget_str(a, "reason") : "-");
		n++;
	}
	if (n == 0)
		fprintf(f, "(no appointments)\n");
	fprintf(f, "\n%d appointment%s.\n", n, n == 1 ? "" : "s");
	fclose(f);
	*count = n;
	return out;
}

static int
write_file(const char *path, const char *text, char *err, size_t errlen)
{
	size_t	len = strlen(text), off = 0;
	ssize_t	w;
	int	fd;

	/* Patient names: readable by the user only. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "cannot write it: %s", strerror(errno));
		return -1;
	}
	while (off < len) {
		if ((w = write(fd, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "cannot write it: %s", strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "cannot write it: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Pipes text to lpr, its output thrown away so the screen stays whole. */
static int
print_lpr(const char *text, char *err, size_t errlen)
{
	int	fds[2], status, null;
	pid_t	pid;
	size_t	len = strlen(text), off = 0;
	ssize_t	w;

	if (pipe(fds) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[0], STDIN_FILENO);
		if ((null = open("/dev/null", O_WRONLY)) != -1) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		close(fds[0]);
		close(fds[1]);
		execlp("lpr", "lpr", "-T", "MediFlow day sheet", (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	while (off < len) {
		if ((w = write(fds[1], text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	close(fds[1]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (off < len || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "lpr failed (exit %d)",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	return 0;
}

/* Writes or prints ds->text as the dialog says. */
static void
daysheet_output(struct dialog *d)
{
	struct daysheet	*ds = d->arg;
	struct field	*to = dialog_get(d, "to");
	const char	*path = field_value(dialog_get(d, "path"));
	char		 err[600], full[FIELD_MAX + 256], what[300];
	int		 printer = to != NULL && to->choice == 1;

	if (ds->doctor_id != 0)
		snprintf(what, sizeof what, "Day sheet of %s", ds->doctor);
	else
		snprintf(what, sizeof what, "%s", ds->doctor);
	if (printer) {
		if (print_lpr(ds->text, err, sizeof err) != 0) {
			d->busy = 0;
			strlcpy_mf(d->error, err, sizeof d->error);
			tui_redraw();
			return;
		}
		tui_message(0, "%s sent to the printer.", what);
		dialog_close(d);
		return;
	}
	if (path[0] == '~' && path[1] == '/' && getenv("HOME") != NULL)
		snprintf(full, sizeof full, "%s%s", getenv("HOME"), path + 1);
	else
		snprintf(full, sizeof full, "%s", path);
	if (write_file(full, ds->text, err, sizeof err) != 0) {
		d->busy = 0;
		strlcpy_mf(dialog_get(d, "path")->error, err,
		    sizeof dialog_get(d, "path")->error);
		tui_redraw();
		return;
	}
	if (ds->doctor_id != 0)
		tui_message(0, "Day sheet written to %s (%d appointments).", full, ds->count);
	else
		tui_message(0, "%s written to %s.", what, full);
	dialog_close(d);
}

static void
daysheet_loaded(const struct tconn_reply *reply, void *arg)
{
	struct dialog	*d = arg;
	struct daysheet	*ds = d->arg;

	if (!reply->ok) {
		dialog_fail(d, reply);
		return;
	}
	free(ds->text);
	ds->text = sheet_text(ds, jget_array(reply->result, "appointments"), &ds->count);
	daysheet_output(d);
}

static void
daysheet_submit(struct dialog *d)
{
	struct daysheet	*ds = d->arg;
	struct field	*to = dialog_get(d, "to");

	if ((to == NULL || to->choice == 0) &&
	    field_value(dialog_get(d, "path"))[0] == '\0') {
		strlcpy_mf(dialog_get(d, "path")->error, "where should it go?",
		    sizeof dialog_get(d, "path")->error);
		return;
	}
	d->error[0] = '\0';
	if (ds->doctor_id == 0) {
		/* Text made already (ui_print_text). */
		daysheet_output(d);
		return;
	}
	d->busy = 1;
	tconn_call("appt.list", json_pack("{s:s, s:I, s:i}", "date", ds->date,
	    "doctor_id", (json_int_t)ds->doctor_id, "limit", 500), d, daysheet_loaded, d);
	tui_redraw();
}

static void
daysheet_closed(struct dialog *d)
{
	struct daysheet	*ds = d->arg;

	free(ds->text);
	free(ds);
}

void
ui_daysheet(int64_t doctor_id, const char *doctor, const char *date)
{
	struct daysheet	*ds = xcalloc(1, sizeof *ds);
	struct dialog	*d;
	struct field	*f;
	char		 title[300], label[40], name[128], path[FIELD_MAX];
	int		 lpr = have_lpr();

	ds->doctor_id = doctor_id;
	strlcpy_mf(ds->doctor, doctor, sizeof ds->doctor);
	strlcpy_mf(ds->date, date, sizeof ds->date);
	fmt_date_label(date, label, sizeof label);
	snprintf(title, sizeof title, "Day sheet: %s, %s", doctor, label);
	d = dialog_new(title, daysheet_submit, ds);
	d->closed = daysheet_closed;
	d->width = 76;
	dialog_text(d, "The day's appointments as plain text%s.",
	    lpr ? ", to a file or the printer (Left/Right chooses)" : ", to a file");
	if (lpr) {
		f = dialog_field(d, "to", "Send to");
		f->choices = to_file_or_printer;
	}
	slug(doctor, name, sizeof name);
	snprintf(path, sizeof path, "~/mediflow-daysheet-%s-%s.txt", name, date);
	field_set(dialog_field(d, "path", "File"), path);
	d->focus = d->nfields - 1;
	/* Enter writes it from any field, as after a refusal. */
	d->failed = 1;
	d->dialog_hints = "Enter write it|Tab next field|Esc cancel";
	dialog_open(d);
}

void
ui_print_text(const char *what, const char *path, const char *text)
{
	struct daysheet	*ds = xcalloc(1, sizeof *ds);
	struct dialog	*d;
	struct field	*f;
	char		 title[300];
	int		 lpr = have_lpr();

	strlcpy_mf(ds->doctor, what, sizeof ds->doctor);
	ds->text = xstrdup(text);
	snprintf(title, sizeof title, "Print: %s", what);
	d = dialog_new(title, daysheet_submit, ds);
	d->closed = daysheet_closed;
	d->width = 76;
	dialog_text(d, "Plain text%s.", lpr ?
	    ", to a file or the printer (Left/Right chooses)" : ", to a file");
	if (lpr) {
		f = dialog_field(d, "to", "Send to");
		f->choices = to_file_or_printer;
	}
	field_set(dialog_field(d, "path", "File"), path);
	d->focus = d->nfields - 1;
	d->failed = 1;
	d->dialog_hints = "Enter write it|Tab next field|Esc cancel";
	dialog_open(d);
}
