/* app.js -- MediFlow's patient page. Hash routes (#/book, #/appointments,
 * ...) so back and forward work; one view at a time in <main>; JSON over
 * /api with the session cookie and the CSRF header; live updates from
 * /api/events. No framework and no build step. Text from the server only
 * ever reaches the page through textContent, never as HTML, and the CSP
 * forbids inline script and style, so everything lives here and in app.css.
 *
 * A patient's requests are rate-limited (100 per 15 minutes by default),
 * so views fetch what they show once and live events patch them. */
'use strict';

(function () {

const ACTIVE = ['requested', 'approved', 'checked_in', 'in_progress'];
const STATUS_TEXT = {
	requested: 'Requested: waiting for the clinic to confirm',
	approved: 'Confirmed', checked_in: 'Checked in', in_progress: 'In progress',
	completed: 'Completed', cancelled: 'Cancelled', rejected: 'Declined by the clinic',
	no_show: 'Missed', rescheduled: 'Moved to another time'
};
const DAY = 86400;

const state = {
	user: null,		/* the logged-in user, or null */
	doctors: null,		/* doctors.list, fetched once per login */
	convs: null,		/* chat.list as last fetched */
	es: null,		/* the EventSource */
	esDelay: 3000,
	esTimer: 0,
	unreadMessages: 0,
	unreadNotes: 0,
	flash: '',
	startError: null,	/* why the first request failed, for the login form */
	view: null,		/* {name, id, ...}: what <main> shows */
	gen: 0			/* bumps on each render: late answers are dropped */
};
const main = document.getElementById('main');
const live = document.getElementById('live');

/* --- DOM helpers --- */

/* h('p', {class: 'x', onclick: f}, 'text', child, [more]) */
function h(tag, props) {
	const el = document.createElement(tag);
	if (props)
		for (const k of Object.keys(props)) {
			const v = props[k];
			if (v === undefined || v === null || v === false)
				continue;
			if (k.startsWith('on'))
				el.addEventListener(k.slice(2), v);
			else if (k === 'text')
				el.textContent = v;
			else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected')
				el[k] = v;
			else
				el.setAttribute(k, v === true ? '' : v);
		}
	for (let i = 2; i < arguments.length; i++)
		append(el, arguments[i]);
	return el;
}

function append(el, c) {
	if (c === undefined || c === null || c === false)
		return;
	if (Array.isArray(c))
		c.forEach((x) => append(el, x));
	else
		el.append(c instanceof Node ? c : String(c));
}

let uid = 0;
function nextId(prefix) {
	uid++;
	return prefix + '-' + uid;
}

/* A labelled control with an optional hint; the control is .input. */
function field(label, name, type, opts) {
	opts = opts || {};
	const id = nextId('f-' + name);
	const hintId = opts.hint ? id + '-hint' : null;
	const attrs = Object.assign({ id: id, name: name, 'aria-describedby': hintId },
	    opts.attrs || {});
	let input;
	if (type === 'textarea')
		input = h('textarea', attrs);
	else if (type === 'select') {
		input = h('select', attrs);
		(opts.options || []).forEach((o) =>
		    input.append(h('option', { value: o[0], text: o[1] })));
	} else
		input = h('input', Object.assign({ type: type }, attrs));
	if (opts.value !== undefined)
		input.value = opts.value;
	const wrap = h('div', { class: 'field' }, h('label', { for: id, text: label }),
	    input, opts.hint ? h('p', { id: hintId, class: 'hint', text: opts.hint }) : null);
	wrap.input = input;
	return wrap;
}

/* A form with an error box right after its fields. */
function form(label, children, onsubmit, submitText) {
	const err = h('p', { class: 'error', role: 'alert' });
	const ok = h('p', { class: 'ok', role: 'status' });
	const btn = h('button', { type: 'submit', text: submitText });
	const f = h('form', { 'aria-label': label, novalidate: true }, children, btn, err, ok);
	f.errorBox = err;
	f.okBox = ok;
	f.submitButton = btn;
	f.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		if (btn.disabled)
			return;
		clearErrors(f);
		btn.disabled = true;
		try {
			await onsubmit(f);
		} catch (e) {
			showError(f, e);
		} finally {
			btn.disabled = false;
		}
	});
	return f;
}

function clearErrors(f) {
	f.errorBox.textContent = '';
	f.okBox.textContent = '';
	f.querySelectorAll('[aria-invalid]').forEach((el) => {
		el.removeAttribute('aria-invalid');
		const d = (el.getAttribute('aria-describedby') || '').split(' ')
		    .filter((x) => x !== f.errorBox.id).join(' ');
		if (d)
			el.setAttribute('aria-describedby', d);
		else
			el.removeAttribute('aria-describedby');
	});
}

/* The API's message goes next to the form; when it names an argument
 * ("email: not a valid e-mail address"), that control is marked invalid,
 * pointed at the message, and focused. */
function showError(f, e) {
	f.errorBox.textContent = errorText(e);
	const m = /^([a-z_]+)[:.[]/.exec(e.message || '');
	const el = m && f.elements[m[1]];
	if (el && el.nodeType === 1) {
		if (!f.errorBox.id)
			f.errorBox.id = nextId('err');
		el.setAttribute('aria-invalid', 'true');
		const d = el.getAttribute('aria-describedby');
		el.setAttribute('aria-describedby', (d ? d + ' ' : '') + f.errorBox.id);
		el.focus();
	}
}

function errorText(e) {
	if (e.code === 'rate_limited' || e.code === 'locked')
		return e.message + (e.retryAfter ? ' (try again in ' +
		    waitText(+e.retryAfter) + ')' : '');
	return e.message || 'Something went wrong.';
}

function waitText(s) {
	return s < 90 ? s + ' s' : Math.ceil(s / 60) + ' min';
}

function say(text) {
	live.textContent = '';
	setTimeout(() => { live.textContent = text; }, 50);
}

/* --- time --- */

/* Every time and calendar day is the clinic's (auth.me's tz), never the
 * device's: a patient abroad, or a phone set to the wrong zone, still
 * sees 09:00 for a 09:00 visit. When the zones differ, times carry the
 * zone's short name and a note under the header says so. */
const deviceTz = new Intl.DateTimeFormat().resolvedOptions().timeZone;
let fmtDay, fmtTime, fmtZoned, fmtShort, fmtParts;
const fmtCivil = new Intl.DateTimeFormat(undefined,
    { timeZone: 'UTC', weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });

let zoneLabel = '';	/* "clinic time, Zone" when it is not the device's */

/* tz: the clinic's zone; null before login; undefined when auth.me failed. */
function setZone(tz) {
	let zone = deviceTz, why = tz === undefined ? 'the clinic\'s could not be loaded' : '';
	try {
		if (tz)
			zone = new Intl.DateTimeFormat('en', { timeZone: tz }).resolvedOptions().timeZone;
	} catch (x) {
		why = 'this browser does not know the clinic\'s, ' + tz;
	}
	const other = zone !== deviceTz;
	const f = (o) => new Intl.DateTimeFormat(undefined, Object.assign({ timeZone: zone }, o));
	const hm = { hour: '2-digit', minute: '2-digit' };
	const name = other ? { timeZoneName: 'short' } : {};
	fmtDay = f({ weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
	fmtTime = f(hm);
	fmtZoned = f(Object.assign({}, hm, name));
	fmtShort = f(Object.assign({ year: 'numeric', month: 'short', day: 'numeric' }, hm, name));
	fmtParts = new Intl.DateTimeFormat('en-US',
	    { timeZone: zone, year: 'numeric', month: 'numeric', day: 'numeric' });
	zoneLabel = other ? 'clinic time, ' + zone : '';
	const note = document.getElementById('tz-note');
	note.hidden = !other && !why;
	note.textContent = why ? 'Times are in this device\'s time zone, ' + deviceTz + ': ' + why + '.' :
	    'Times are in the clinic\'s time zone, ' + zone + ' (this device: ' + deviceTz + ').';
}
setZone(null);

function when(sec) {
	const d = new Date(sec * 1000);
	return fmtDay.format(d) + ', ' + fmtZoned.format(d);
}

function stamp(sec) {
	return fmtShort.format(new Date(sec * 1000));
}

/* YYYY-MM-DD of an instant on the clinic's calendar. */
function clinicDate(ms) {
	const p = {};
	fmtParts.formatToParts(new Date(ms)).forEach((x) => { p[x.type] = x.value; });
	return p.year + '-' + p.month.padStart(2, '0') + '-' + p.day.padStart(2, '0');
}

/* Calendar arithmetic on YYYY-MM-DD: no zone, no DST. */
function addDays(iso, n) {
	const d = new Date(iso + 'T00:00:00Z');
	d.setUTCDate(d.getUTCDate() + n);
	return d.toISOString().slice(0, 10);
}

/* "Monday, 7 December 2026" for YYYY-MM-DD. */
function dayText(iso) {
	return fmtCivil.format(new Date(iso + 'T12:00:00Z'));
}

function now() {
	return Math.floor(Date.now() / 1000);
}

/* --- the API --- */

function csrfToken() {
	const m = /(?:^|;\s*)(?:__Host-)?mf_csrf=([^;]*)/.exec(document.cookie);
	return m ? m[1] : '';
}

async function api(method, path, body, retried) {
	const opts = { method: method, credentials: 'same-origin', headers: {} };
	if (method !== 'GET')
		opts.headers['X-CSRF-Token'] = csrfToken();
	if (body !== undefined) {
		opts.headers['Content-Type'] = 'application/json';
		opts.body = JSON.stringify(body);
	}
	let r;
	try {
		r = await fetch(path, opts);
	} catch (x) {
		throw apiError('network',
		    'Cannot reach the clinic. Check your connection and try again.', 0);
	}
	let data = null;
	try {
		data = await r.json();
	} catch (x) {
		data = null;
	}
	if (r.ok && data !== null)
		return data;
	/* The CSRF cookie went missing (cleared, or expired with the
	 * browser session): the refusal set a new one, so once more. */
	if (r.status === 403 && method !== 'GET' && !retried && data && data.error &&
	    /CSRF/.test(data.error.message))
		return api(method, path, body, true);
	const e = data && data.error ? apiError(data.error.code, data.error.message, r.status) :
	    apiError('http', 'The clinic server answered ' + r.status + '.', r.status);
	e.retryAfter = r.headers.get('Retry-After');
	if (r.status === 401 && state.user && !path.startsWith('/api/auth/'))
		sessionLost();
	throw e;
}

function apiError(code, message, status) {
	const e = new Error(message);
	e.code = code;
	e.status = status;
	return e;
}

function query(params) {
	const q = new URLSearchParams();
	for (const k of Object.keys(params))
		if (params[k] !== undefined && params[k] !== null && params[k] !== '')
			q.set(k, params[k]);
	const s = q.toString();
	return s ? '?' + s : '';
}

/* --- session --- */

/* user: the login's; start the live stream and the badges. me: auth.me's
 * answer, which names the clinic's zone; a login's answer does not, so
 * then auth.me is asked before any time is shown. */
async function loggedIn(user, me) {
	state.user = user;
	state.doctors = null;
	state.convs = null;
	document.getElementById('nav').hidden = user.role !== 'patient';
	if (user.role === 'patient') {
		startEvents();
		refreshBadges();
	}
	if (!me) {
		try {
			me = await api('GET', '/api/auth/me');
		} catch (e) {
			me = {};
		}
	}
	setZone(me.tz);
}

function sessionLost() {
	if (!state.user)
		return;
	loggedOut();
	state.flash = 'Your session ended. Please log in again.';
	go('#/login');
}

function loggedOut() {
	state.user = null;
	stopEvents();
	document.getElementById('nav').hidden = true;
	setZone(null);
	setBadge('messages', 0);
	setBadge('notifications', 0);
}

async function logout() {
	try {
		await api('POST', '/api/auth/logout', {});
	} catch (e) {
		/* The cookie is cleared whatever the op answered. */
	}
	loggedOut();
	state.flash = 'You are logged out.';
	go('#/login');
}

async function refreshBadges() {
	try {
		const u = await api('GET', '/api/messages/unread');
		setBadge('messages', u.unread);
		const n = await api('GET', '/api/notifications' + query({ unreadOnly: 'true', limit: 1 }));
		setBadge('notifications', n.unread);
	} catch (e) {
		/* Badges are a convenience; the views show the truth. */
	}
}

function setBadge(which, n) {
	if (which === 'messages')
		state.unreadMessages = n;
	else
		state.unreadNotes = n;
	const b = document.getElementById('badge-' + which);
	b.hidden = !(n > 0);
	b.textContent = n > 0 ? String(n) : '';
	b.setAttribute('aria-label', n + ' unread');
}

/* --- live events --- */

function startEvents() {
	stopEvents();
	const es = new EventSource('/api/events');
	state.es = es;
	const on = (name, f) => es.addEventListener(name, (ev) => {
		let data;
		try {
			data = JSON.parse(ev.data);
		} catch (x) {
			return;
		}
		f(data);
	});
	on('chat.message', onChatMessage);
	on('chat.read', onChatRead);
	on('chat.typing', onChatTyping);
	on('notification', onNotification);
	on('appt.changed', onApptChanged);
	on('presence', onPresence);
	es.addEventListener('open', () => {
		const again = document.body.dataset.events === 'lost';
		document.body.dataset.events = 'open';
		state.esDelay = 3000;
		if (again) {
			/* Catch up with what happened while the stream was
			 * down; views with forms keep what is typed in them. */
			refreshBadges();
			state.convs = null;	/* its presence may be stale */
			const v = state.view;
			if (v && v.catchUp)
				v.catchUp();
			else if (v && ['appointments', 'messages', 'notifications'].includes(v.name))
				render(false);
		}
	});
	es.addEventListener('error', () => {
		if (state.es !== es)
			return;
		document.body.dataset.events = 'lost';
		if (es.readyState !== EventSource.CLOSED)
			return;	/* the browser retries by itself */
		/* Refused (401 when the session ended): ask, then retry slowly. */
		state.es = null;
		state.esTimer = setTimeout(async () => {
			try {
				await api('GET', '/api/auth/me');
				if (state.user)
					startEvents();
			} catch (e) {
				if (e.status === 401)
					sessionLost();
				else if (state.user)
					startEvents();
			}
		}, state.esDelay);
		state.esDelay = Math.min(state.esDelay * 2, 60000);
	});
}

function stopEvents() {
	clearTimeout(state.esTimer);
	if (state.es)
		state.es.close();
	state.es = null;
	delete document.body.dataset.events;
}

function onChatMessage(m) {
	const v = state.view;
	const mine = state.user && m.sender_id === state.user.id;
	if (v && v.name === 'conversation' && v.id === m.conversation_id) {
		v.add(m);
		return;
	}
	if (!mine) {
		setBadge('messages', state.unreadMessages + 1);
		say('New message');
	}
	if (v && v.name === 'messages')
		render(false);
}

function onChatRead(r) {
	const v = state.view;
	if (v && v.name === 'conversation' && v.id === r.conversation_id && r.user_id !== state.user.id)
		v.peerRead(r.read_id);
}

function onChatTyping(t) {
	const v = state.view;
	if (v && v.name === 'conversation' && v.id === t.conversation_id)
		v.typing();
}

function onNotification(n) {
	setBadge('notifications', state.unreadNotes + 1);
	say('New notification: ' + n.title);
	const v = state.view;
	if (v && v.name === 'notifications')
		v.add(n);
}

function onApptChanged(a) {
	const v = state.view;
	if (v && (v.name === 'appointments' || v.name === 'reschedule'))
		v.changed(a);
}

/* Whether someone is online, shown by marks that follow the presence
 * events (sent for those the patient shares a conversation with).
 * text(p) is a mark's text for p: {user_id, online, last_seen}. */
function presenceMark(tag, props, p, text) {
	const el = h(tag, Object.assign({ 'data-presence': p.user_id }, props));
	el.presenceText = text;
	showPresence(el, p);
	return el;
}

function showPresence(el, p) {
	el.textContent = el.presenceText(p);
	el.dataset.online = p.online ? '1' : '0';
}

function onPresence(p) {
	if (!Number.isInteger(p.user_id))
		return;
	(state.convs || []).forEach((c) => {
		if (c.peer.user_id === p.user_id)
			Object.assign(c.peer, { online: !!p.online, last_seen: p.last_seen });
	});
	main.querySelectorAll('[data-presence="' + p.user_id + '"]').forEach((el) => showPresence(el, p));
}

/* --- routing --- */

const routes = [
	[/^#\/login$/, viewLogin, false],
	[/^#\/register$/, viewRegister, false],
	[/^#\/appointments$/, viewAppointments, true],
	[/^#\/appointments\/(\d+)\/reschedule$/, viewReschedule, true],
	[/^#\/book$/, viewBook, true],
	[/^#\/messages$/, viewMessages, true],
	[/^#\/messages\/(\d+)$/, viewConversation, true],
	[/^#\/notifications$/, viewNotifications, true],
	[/^#\/prescriptions$/, viewPrescriptions, true],
	[/^#\/records$/, viewRecords, true],
	[/^#\/settings$/, viewSettings, true]
];

function go(hash) {
	if (location.hash === hash)
		render(true);
	else
		location.hash = hash;
}

/* Shows the view the hash names. focus: move the keyboard focus to the
 * new view's heading (a navigation), or leave it (a refresh). */
function render(focus) {
	const hash = location.hash || '#/appointments';
	let route = null, m = null;
	for (const r of routes)
		if ((m = r[0].exec(hash)) !== null) {
			route = r;
			break;
		}
	if (route === null) {
		location.replace(state.user ? '#/appointments' : '#/login');
		return;
	}
	if (route[2] && !state.user) {
		location.replace('#/login');
		return;
	}
	if (!route[2] && state.user) {
		location.replace('#/appointments');
		return;
	}
	const gen = ++state.gen;
	state.view = { name: '' };
	document.querySelectorAll('#nav a').forEach((a) => {
		if (hash.startsWith(a.getAttribute('href')))
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	});
	const flash = state.flash;
	state.flash = '';
	/* A refresh keeps the old content up until the new one is ready. */
	if (focus)
		main.replaceChildren(h('p', { class: 'muted', text: 'Loading…' }));
	if (state.user && state.user.role !== 'patient') {
		viewStaff();
		return;
	}
	/* What the last action did, under the heading (empty: hidden). */
	const status = h('p', { class: 'ok', role: 'status', text: flash });
	route[1]({
		gen: gen,
		status: (text) => { status.textContent = text; },
		id: m[1] ? Number(m[1]) : 0,
		current: () => gen === state.gen,
		mount: (title, nodes) => {
			document.title = title + ' – MediFlow';
			const h1 = h('h1', { tabindex: '-1', text: title });
			main.replaceChildren(h1, status);
			append(main, nodes);
			if (focus)
				h1.focus();
		}
	});
}

/* A view's first fetch failed: say so in place, with a way to try again. */
function loadFailed(ctx, title, e) {
	if (!ctx.current())
		return;
	ctx.mount(title, [h('p', { class: 'error', role: 'alert', text: errorText(e) }),
	    h('button', { type: 'button', class: 'secondary', text: 'Try again',
	    onclick: () => render(true) })]);
}

/* --- views: signing in --- */

function viewLogin(ctx) {
	const email = field('E-mail', 'email', 'email',
	    { attrs: { autocomplete: 'username', required: true } });
	const password = field('Password', 'password', 'password',
	    { attrs: { autocomplete: 'current-password', required: true } });
	const f = form('Log in', [email, password], async () => {
		const r = await api('POST', '/api/auth/login',
		    { email: email.input.value, password: password.input.value });
		await loggedIn(r.user);
		go('#/appointments');
	}, 'Log in');
	if (state.startError) {
		f.errorBox.textContent = errorText(state.startError);
		state.startError = null;
	}
	ctx.mount('Log in', [f, h('p', null, 'New here? ',
	    h('a', { href: '#/register', text: 'Create an account' }))]);
}

function viewRegister(ctx) {
	const name = field('Full name', 'full_name', 'text',
	    { attrs: { autocomplete: 'name', required: true, maxlength: 200 } });
	const email = field('E-mail', 'email', 'email',
	    { attrs: { autocomplete: 'email', required: true } });
	const phone = field('Mobile phone (optional)', 'phone', 'tel', {
		attrs: { autocomplete: 'tel' },
		hint: 'In international form, such as +15551234567, to get reminders by text message.'
	});
	const dob = field('Date of birth (optional)', 'date_of_birth', 'date', {
		hint: 'If the clinic already has a record for you under this e-mail, your date of birth links it to your account.'
	});
	const pw = field('Password', 'password', 'password', {
		attrs: { autocomplete: 'new-password', required: true, minlength: 12 },
		hint: 'At least 12 characters, not a dictionary word. A few unrelated words work well.'
	});
	const pw2 = field('Repeat the password', 'password2', 'password',
	    { attrs: { autocomplete: 'new-password', required: true } });
	const f = form('Create an account', [name, email, phone, dob, pw, pw2], async () => {
		if (pw.input.value !== pw2.input.value)
			throw apiError('bad_request', 'password2: the two passwords differ', 0);
		const args = { email: email.input.value, password: pw.input.value,
		    full_name: name.input.value };
		if (phone.input.value)
			args.phone = phone.input.value;
		if (dob.input.value)
			args.date_of_birth = dob.input.value;
		const r = await api('POST', '/api/auth/register', args);
		await loggedIn(r.user);
		state.flash = 'Welcome, ' + r.user.full_name + '. Your account is ready.';
		go('#/book');
	}, 'Create account');
	ctx.mount('Create an account', [f, h('p', null, 'Have an account? ',
	    h('a', { href: '#/login', text: 'Log in' }))]);
}

function viewStaff() {
	document.title = 'MediFlow';
	main.replaceChildren(h('h1', { tabindex: '-1', text: 'Patients only' }),
	    h('p', { text: 'This page is for patients. Clinic staff use the MediFlow terminal client.' }),
	    h('button', { type: 'button', text: 'Log out', onclick: logout }));
}

/* --- views: appointments --- */

async function doctors() {
	if (state.doctors === null) {
		const r = await api('GET', '/api/doctors' + query({ limit: 200 }));
		state.doctors = r.doctors;
	}
	return state.doctors;
}

async function viewAppointments(ctx) {
	const t = now();
	let upcoming, past;
	try {
		/* appt.list spans at most 366 days a call. */
		[upcoming, past] = await Promise.all([
			api('GET', '/api/appointments' + query({ from: t - DAY, to: t + 365 * DAY, limit: 500 })),
			api('GET', '/api/appointments' + query({ from: t - 365 * DAY, to: t - DAY, limit: 500 }))
		]);
	} catch (e) {
		loadFailed(ctx, 'My appointments', e);
		return;
	}
	if (!ctx.current())
		return;
	const byId = new Map();
	past.appointments.concat(upcoming.appointments).forEach((a) => byId.set(a.id, a));
	const upList = h('ul', { class: 'plain', 'aria-label': 'Upcoming appointments' });
	const pastList = h('ul', { class: 'plain', 'aria-label': 'Past and cancelled appointments' });
	const upEmpty = h('p', { class: 'muted' }, 'Nothing booked. ',
	    h('a', { href: '#/book', text: 'Book an appointment' }));
	const pastEmpty = h('p', { class: 'muted', text: 'No past appointments.' });
	const fill = () => {
		const all = Array.from(byId.values());
		const t2 = now();
		const isUp = (a) => ACTIVE.includes(a.status) && a.ends_at > t2;
		const up = all.filter(isUp).sort((a, b) => a.starts_at - b.starts_at);
		const old = all.filter((a) => !isUp(a)).sort((a, b) => b.starts_at - a.starts_at);
		upList.replaceChildren(...up.map((a) => apptCard(a, true, ctx, refreshOne)));
		pastList.replaceChildren(...old.map((a) => apptCard(a, false, ctx, refreshOne)));
		upEmpty.hidden = up.length > 0;
		pastEmpty.hidden = old.length > 0;
	};
	function refreshOne(a) {
		byId.set(a.id, a);
		fill();
	}
	fill();
	state.view = {
		name: 'appointments',
		changed: (a) => {
			refreshOne(a);
			say('Appointment with ' + a.doctor_name + ': ' + STATUS_TEXT[a.status]);
		}
	};
	ctx.mount('My appointments', [h('p', null,
	    h('a', { class: 'button', href: '#/book', text: 'Book an appointment' })),
	    h('h2', { text: 'Upcoming' }), upEmpty, upList,
	    h('h2', { text: 'Past and cancelled' }), pastEmpty, pastList]);
}

function apptCard(a, upcoming, ctx, onchange) {
	const card = h('li', { class: 'card', 'data-appointment': a.id });
	const canChange = a.status === 'requested' || a.status === 'approved';
	const actions = h('div', { class: 'actions' });
	/* append(), not the DOM's: that one would print a null as "null". */
	append(card, [h('h3', { text: when(a.starts_at) }),
	    h('p', { text: 'With ' + a.doctor_name }),
	    h('p', null, h('span', { class: 'status status-' + a.status, text: STATUS_TEXT[a.status] || a.status }),
	    a.status_note ? h('span', { class: 'muted', text: ' – ' + a.status_note }) : null),
	    a.reason ? h('p', { class: 'muted', text: 'Reason: ' + a.reason }) : null, actions]);
	if (upcoming) {
		actions.append(h('a', { class: 'button secondary', href: '/api/appointments/' + a.id + '/ics',
		    download: 'appointment-' + a.id + '.ics', text: 'Add to calendar (.ics)' }));
	}
	if (upcoming && canChange) {
		actions.append(h('a', { class: 'button secondary', href: '#/appointments/' + a.id + '/reschedule',
		    text: 'Reschedule' }));
		const cancelBtn = h('button', { type: 'button', class: 'danger', text: 'Cancel…',
		    'aria-expanded': 'false' });
		const note = field('Why are you cancelling? (optional)', 'note', 'textarea',
		    { attrs: { maxlength: 500 } });
		/* When the clinic keeps a list of reasons, one of them is required
		 * and the free text goes along as a note. */
		const reasonSel = field('Why are you cancelling?', 'reason', 'select', { options: [] });
		reasonSel.hidden = true;
		let reasons = null;	/* the list's fetch; null until asked, or after it failed */
		const loadReasons = () => {
			if (reasons === null)
				reasons = api('GET', '/api/cancel-reasons').then((r) => {
					if (!r.reasons.length)
						return;
					reasonSel.input.replaceChildren(h('option', { value: '', text: 'Choose a reason' }),
					    ...r.reasons.map((x) => h('option', { value: x, text: x })));
					reasonSel.input.required = true;
					reasonSel.hidden = false;
					note.querySelector('label').textContent = 'Anything to add? (optional)';
					note.input.maxLength = 298;
				}, (e) => {
					reasons = null;
					throw e;
				});
			return reasons;
		};
		const f = form('Cancel the appointment on ' + when(a.starts_at), [reasonSel, note], async () => {
			await loadReasons();	/* a quick submit waits for the list */
			const args = { action: 'cancel' };
			const text = note.input.value.trim();
			if (!reasonSel.hidden) {
				if (!reasonSel.input.value)
					throw apiError('bad_request', 'reason: choose one of the reasons', 0);
				args.reason = reasonSel.input.value;
				if (text)
					args.note = text;
			} else if (text)
				args.reason = text;
			const r = await api('PATCH', '/api/appointments/' + a.id, args);
			if (!ctx.current())
				return;
			ctx.status('Cancelled the appointment on ' + when(a.starts_at) + '.');
			onchange(r.appointment);
			main.querySelector('h1').focus();
		}, 'Cancel the appointment');
		f.hidden = true;
		const keep = h('button', { type: 'button', class: 'secondary', text: 'Keep it' });
		f.submitButton.after(keep);
		f.submitButton.classList.add('danger');
		cancelBtn.addEventListener('click', () => {
			f.hidden = false;
			cancelBtn.setAttribute('aria-expanded', 'true');
			const first = () => (reasonSel.hidden ? note : reasonSel).input.focus();
			loadReasons().then(first, first);
		});
		keep.addEventListener('click', () => {
			f.hidden = true;
			cancelBtn.setAttribute('aria-expanded', 'false');
			cancelBtn.focus();
		});
		actions.append(cancelBtn);
		card.append(f);
	}
	return card;
}

/* The day and free-time picker of booking and rescheduling. doctorId()
 * names the doctor; picked() the chosen starts_at or 0. load(true) steps
 * ahead from the day shown, one request at a time and at most 14 days, to
 * the first day with a free time: late in the clinic's day, today has none. */
function slotPicker(doctorId) {
	const today = clinicDate(Date.now());
	const date = field('Day', 'date', 'date', { value: today, attrs: { min: today, required: true } });
	const prev = h('button', { type: 'button', class: 'secondary', text: '← Previous day' });
	const next = h('button', { type: 'button', class: 'secondary', text: 'Next day →' });
	const legend = h('legend', { text: 'Free times' });
	const grid = h('div', { class: 'slots' });
	const msg = h('p', { class: 'muted', role: 'status' });
	const err = h('p', { class: 'error', role: 'alert' });
	const set = h('fieldset', null, legend, msg, grid, err);
	let seq = 0, auto = '';	/* auto: the day a search moved away from */
	async function load(seek) {
		const my = ++seq;
		if (seek === true && auto)
			date.input.value = auto;	/* a new doctor: from that day again */
		auto = '';
		grid.replaceChildren();
		err.textContent = '';
		const id = doctorId();
		if (!id) {
			msg.textContent = 'Choose a doctor to see free times.';
			return;
		}
		if (!date.input.value) {
			msg.textContent = 'Choose a day.';
			return;
		}
		msg.textContent = 'Looking for free times…';
		const from = date.input.value;
		let r, day = from, n = 0, note = '';
		try {
			while (!(r = await api('GET', '/api/appointments/available-slots' +
			    query({ doctorId: id, date: day }))).slots.length &&
			    seek === true && ++n < 14 && my === seq)
				day = addDays(day, 1);
		} catch (e) {
			if (my !== seq)
				return;
			msg.textContent = '';
			err.textContent = errorText(e);
			return;
		}
		if (my !== seq)
			return;
		if (!r.slots.length)
			day = from;
		else if (day !== from) {
			auto = from;
			note = 'No free times ' + (from === today ? 'today' : 'on ' + dayText(from)) +
			    '; showing ' + dayText(day) + '. ';
		}
		date.input.value = day;
		legend.textContent = 'Free times on ' + dayText(day) +
		    (zoneLabel ? ' (' + zoneLabel + ')' : '');
		msg.textContent = r.slots.length ? note + r.slots.length + ' free ' +
		    (r.slots.length === 1 ? 'time' : 'times') + '.' : n ?
		    'No free times in the next 14 days. Try a later day.' :
		    'No free times on this day. Try another day.';
		grid.replaceChildren(...r.slots.map((s) => h('label', null,
		    h('input', { type: 'radio', name: 'starts_at', value: String(s.starts_at),
		    'data-starts-at': s.starts_at }),
		    h('span', { text: fmtTime.format(new Date(s.starts_at * 1000)) }))));
	}
	date.input.addEventListener('change', load);
	prev.addEventListener('click', () => {
		const d = addDays(date.input.value || today, -1);
		date.input.value = d < today ? today : d;
		load();
	});
	next.addEventListener('click', () => {
		date.input.value = addDays(date.input.value || today, 1);
		load();
	});
	return {
		nodes: [date, h('div', null, prev, next), set],
		load: load,
		picked: () => {
			const c = grid.querySelector('input:checked');
			return c ? Number(c.value) : 0;
		}
	};
}

async function viewBook(ctx) {
	let docs;
	try {
		docs = await doctors();
	} catch (e) {
		loadFailed(ctx, 'Book an appointment', e);
		return;
	}
	if (!ctx.current())
		return;
	const specs = Array.from(new Set([].concat(...docs.map((d) => d.specialties))))
	    .sort((a, b) => a.localeCompare(b));
	const spec = field('Specialty', 'specialty', 'select',
	    { options: [['', 'Any specialty']].concat(specs.map((s) => [s, s])) });
	const doc = field('Doctor', 'doctor_id', 'select', { options: [] });
	const about = h('p', { class: 'hint', 'aria-live': 'polite' });
	const picker = slotPicker(() => Number(doc.input.value));
	const reason = field('Reason for the visit (optional)', 'reason', 'textarea',
	    { attrs: { maxlength: 500 } });
	/* The list came once (requests are rate-limited); filtering it here
	 * matches doctors.list's specialty filter: ASCII case ignored. */
	const fillDoctors = () => {
		const s = spec.input.value.toLowerCase();
		const list = docs.filter((d) => !s || d.specialties.some((x) => x.toLowerCase() === s));
		doc.input.replaceChildren(h('option', { value: '', text: list.length ?
		    'Choose a doctor' : 'No doctor with this specialty' }),
		    ...list.map((d) => h('option', { value: String(d.id),
		    text: d.full_name + (d.specialties.length ? ' (' + d.specialties.join(', ') + ')' : '') })));
		if (list.length === 1)
			doc.input.value = String(list[0].id);
		showDoctor();
	};
	const showDoctor = () => {
		const d = docs.find((x) => String(x.id) === doc.input.value);
		about.textContent = d ? [d.qualifications, d.room ? 'Room ' + d.room : '',
		    d.consult_minutes + '-minute visits'].filter(Boolean).join(' · ') : '';
		picker.load(true);
	};
	spec.input.addEventListener('change', fillDoctors);
	doc.input.addEventListener('change', showDoctor);
	const f = form('Book an appointment', [spec, doc, about, picker.nodes, reason], async () => {
		const doctorId = Number(doc.input.value);
		if (!doctorId)
			throw apiError('bad_request', 'doctor_id: choose a doctor', 0);
		const startsAt = picker.picked();
		if (!startsAt)
			throw apiError('bad_request', 'starts_at: choose one of the free times', 0);
		const args = { doctor_id: doctorId, starts_at: startsAt };
		if (reason.input.value.trim())
			args.reason = reason.input.value.trim();
		let r;
		try {
			r = await api('POST', '/api/appointments', args);
		} catch (e) {
			if (e.code === 'conflict')
				picker.load();	/* someone took it: show what is left */
			throw e;
		}
		state.flash = 'Booked: ' + when(r.appointment.starts_at) + ' with ' +
		    r.appointment.doctor_name + '. ' + STATUS_TEXT[r.appointment.status] + '.';
		go('#/appointments');
	}, 'Book');
	f.id = 'book-form';
	fillDoctors();
	ctx.mount('Book an appointment', f);
}

async function viewReschedule(ctx) {
	let a;
	try {
		a = (await api('GET', '/api/appointments/' + ctx.id)).appointment;
	} catch (e) {
		loadFailed(ctx, 'Reschedule', e);
		return;
	}
	if (!ctx.current())
		return;
	const picker = slotPicker(() => a.doctor_id);
	const f = form('Choose a new time', picker.nodes, async () => {
		const startsAt = picker.picked();
		if (!startsAt)
			throw apiError('bad_request', 'starts_at: choose one of the free times', 0);
		const r = await api('PATCH', '/api/appointments/' + a.id,
		    { action: 'reschedule', starts_at: startsAt });
		state.flash = 'Moved to ' + when(r.appointment.starts_at) + '. ' +
		    STATUS_TEXT[r.appointment.status] + '.';
		go('#/appointments');
	}, 'Move the appointment');
	const cur = h('p', { text: 'Now: ' + when(a.starts_at) + ' with ' + a.doctor_name +
	    ' (' + (STATUS_TEXT[a.status] || a.status) + ').' });
	state.view = {
		name: 'reschedule',
		changed: (b) => {
			if (b.id !== a.id)
				return;
			a = b;
			cur.textContent = 'Now: ' + when(a.starts_at) + ' with ' + a.doctor_name +
			    ' (' + (STATUS_TEXT[a.status] || a.status) + ').';
		}
	};
	ctx.mount('Reschedule', [cur, f, h('p', null, h('a', { href: '#/appointments', text: 'Back to my appointments' }))]);
	picker.load(true);
}

/* --- views: clinical --- */

async function viewPrescriptions(ctx) {
	let r;
	try {
		r = await api('GET', '/api/prescriptions' + query({ limit: 100 }));
	} catch (e) {
		loadFailed(ctx, 'Prescriptions', e);
		return;
	}
	if (!ctx.current())
		return;
	const list = h('ul', { class: 'plain' }, r.prescriptions.map((p) => h('li', { class: 'card' },
	    h('h3', { text: 'Prescription #' + p.id + ' – ' + p.status }),
	    h('p', { class: 'muted', text: stamp(p.created_at) + ' · ' + p.doctor_name +
	    (p.status === 'active' && p.ends_at ? ' · until ' + stamp(p.ends_at) : '') }),
	    h('ul', null, p.items.map((i) => h('li', null,
	    h('strong', { text: i.drug + ' ' + i.strength + ' ' + i.form }),
	    h('br'), i.dose + ' ' + i.route + ', ' + i.frequency + ', for ' + i.duration_days +
	    ' days. Quantity ' + i.quantity + ', refills ' + i.refills + '.',
	    i.instructions ? [h('br'), i.instructions] : null))),
	    p.notes ? h('p', { text: p.notes }) : null,
	    p.cancel_reason ? h('p', { class: 'muted', text: 'Cancelled: ' + p.cancel_reason }) : null)));
	ctx.mount('Prescriptions', [r.prescriptions.length ? list :
	    h('p', { class: 'muted', text: 'No prescriptions.' }),
	    r.total > r.prescriptions.length ? h('p', { class: 'muted',
	    text: 'Showing the latest ' + r.prescriptions.length + ' of ' + r.total + '.' }) : null]);
}

async function viewRecords(ctx) {
	let r, files;
	try {
		[r, files] = await Promise.all([
			api('GET', '/api/medical-records' + query({ limit: 100 })),
			api('GET', '/api/files' + query({ limit: 200 }))
		]);
	} catch (e) {
		loadFailed(ctx, 'Medical records', e);
		return;
	}
	if (!ctx.current())
		return;
	const vit = (v) => {
		const out = [];
		if (v.bp_systolic !== null && v.bp_systolic !== undefined)
			out.push('blood pressure ' + v.bp_systolic + '/' + v.bp_diastolic);
		if (v.pulse !== null && v.pulse !== undefined)
			out.push('pulse ' + v.pulse);
		if (v.temperature_c !== null && v.temperature_c !== undefined)
			out.push(v.temperature_c + ' °C');
		if (v.weight_kg !== null && v.weight_kg !== undefined)
			out.push(v.weight_kg + ' kg');
		if (v.height_cm !== null && v.height_cm !== undefined)
			out.push(v.height_cm + ' cm');
		return out.join(', ');
	};
	const text = (label, t) => t ? h('p', null, h('strong', { text: label + ': ' }), t) : null;
	/* Attachments go with their record; those of records not shown
	 * here (past the latest 100) in a list of their own. */
	const shown = new Set(r.records.map((x) => x.id));
	const fileList = (fs) => fs.length ? h('ul', { class: 'files' }, fs.map((f) => h('li', null,
	    h('a', { href: '/api/files/' + f.id, download: f.name, text: f.name }),
	    h('span', { class: 'muted', text: ' (' + sizeText(f.size) + ', ' + stamp(f.created_at) + ')' })))) : null;
	const filesOf = (id) => fileList(files.files.filter((f) => f.record_id === id));
	const other = files.files.filter((f) => !shown.has(f.record_id));
	const list = h('ul', { class: 'plain' }, r.records.map((x) => h('li', { class: 'card' },
	    h('h3', { text: x.diagnosis + (x.diagnosis_code ? ' (' + x.diagnosis_code + ')' : '') }),
	    h('p', { class: 'muted', text: stamp(x.created_at) + ' · ' + x.doctor_name +
	    (x.version > 1 ? ' · amended ' + stamp(x.amended_at) : '') }),
	    text('Symptoms', x.symptoms), text('Findings', x.findings),
	    text('Vitals', x.vitals ? vit(x.vitals) : ''), text('Notes', x.notes),
	    text('Follow-up', x.follow_up), filesOf(x.id))));
	ctx.mount('Medical records', [r.records.length ? list :
	    h('p', { class: 'muted', text: 'No records yet.' }),
	    r.total > r.records.length ? h('p', { class: 'muted',
	    text: 'Showing the latest ' + r.records.length + ' of ' + r.total + '.' }) : null,
	    other.length ? [h('h2', { text: 'Files of earlier records' }), fileList(other)] : null]);
}

function sizeText(n) {
	return n < 1024 ? n + ' bytes' : n < 1048576 ? Math.round(n / 1024) + ' KB' :
	    (n / 1048576).toFixed(1) + ' MB';
}

/* --- views: messages --- */

async function viewMessages(ctx) {
	let r, ct;
	try {
		/* chat.contacts: only whom chat.open lets them write to. */
		[r, ct] = await Promise.all([api('GET', '/api/messages'),
		    api('GET', '/api/messages/contacts' + query({ limit: 200 }))]);
	} catch (e) {
		loadFailed(ctx, 'Messages', e);
		return;
	}
	if (!ctx.current())
		return;
	state.convs = r.conversations;
	const total = r.conversations.reduce((n, c) => n + c.unread, 0);
	setBadge('messages', total);
	const list = h('ul', { class: 'plain', 'aria-label': 'Conversations' },
	    r.conversations.map((c) => h('li', { class: 'card' + (c.unread ? ' unread' : '') },
	    h('h3', null, h('a', { href: '#/messages/' + c.id, text: c.peer.full_name }),
	    c.unread ? h('span', { class: 'badge', text: String(c.unread),
	    'aria-label': c.unread + ' unread' }) : null),
	    h('p', { class: 'muted' }, presenceMark('span', null, c.peer,
	    (p) => p.online ? 'Online' : 'Offline'), c.last_message ? ' · ' +
	    stamp(c.last_message.created_at) + ': ' + c.last_message.body.slice(0, 80) : ''))));
	const docs = ct.contacts;
	const who = field('Doctor', 'user_id', 'select', {
		options: [['', 'Choose a doctor']],
		hint: 'You can write to the doctors you have or had an appointment with.'
	});
	who.input.append(...docs.map((d) => presenceMark('option', { value: String(d.user_id) }, d,
	    (p) => d.full_name + (p.online ? ' (online)' : ''))));
	const f = form('Write to a doctor', [who], async () => {
		if (!who.input.value)
			throw apiError('bad_request', 'user_id: choose a doctor', 0);
		const o = await api('POST', '/api/messages/open', { user_id: Number(who.input.value) });
		go('#/messages/' + o.conversation.id);
	}, 'Open the conversation');
	state.view = { name: 'messages' };
	ctx.mount('Messages', [r.conversations.length ? list :
	    h('p', { class: 'muted', text: 'No conversations yet.' }),
	    h('h2', { text: 'Write to a doctor' }), docs.length ? f : h('p', { class: 'muted' },
	    'You can message a doctor once you have an appointment with them. ',
	    h('a', { href: '#/book', text: 'Book an appointment' }))]);
}

function randomId() {
	const b = new Uint8Array(16);
	crypto.getRandomValues(b);
	return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

async function viewConversation(ctx) {
	const cid = ctx.id;
	let hist, convs;
	try {
		[hist, convs] = await Promise.all([
			api('GET', '/api/messages/' + cid + query({ limit: 50 })),
			state.convs && state.convs.some((c) => c.id === cid) ?
			    { conversations: state.convs } : api('GET', '/api/messages')
		]);
	} catch (e) {
		loadFailed(ctx, 'Conversation', e);
		return;
	}
	if (!ctx.current())
		return;
	state.convs = convs.conversations;
	const conv = convs.conversations.find((c) => c.id === cid);
	const peer = conv ? conv.peer.full_name : 'your doctor';
	const mark = conv ? presenceMark('p', { class: 'muted' }, conv.peer, (p) => p.online ?
	    'Online' : 'Offline' + (p.last_seen ? ', last seen ' + stamp(p.last_seen) : '')) : null;
	let peerRead = conv ? conv.peer_read_id : 0;
	let readSent = conv ? conv.read_id : 0;
	let lastTyping = 0, typingTimer = 0;
	const seen = new Map();
	const log = h('ol', { class: 'plain chat', role: 'log', 'aria-label': 'Messages with ' + peer });
	const typing = h('p', { class: 'muted', 'aria-live': 'polite' });
	const older = h('button', { type: 'button', class: 'secondary', text: 'Show older messages',
	    hidden: !hist.more });
	const bubble = (m) => {
		const mine = m.sender_id === state.user.id;
		const li = h('li', { class: 'msg' + (mine ? ' mine' : ''), 'data-message': m.id },
		    h('span', { class: 'visually-hidden', text: mine ? 'You: ' : peer + ': ' }),
		    m.body, h('span', { class: 'when', text: stamp(m.created_at) +
		    (mine && m.id <= peerRead ? ' · seen' : '') }));
		seen.set(m.id, li);
		return li;
	};
	const markRead = async () => {
		const last = hist.messages.length ? hist.messages[hist.messages.length - 1].id : 0;
		if (last <= readSent || document.hidden)
			return;
		readSent = last;
		try {
			const r = await api('POST', '/api/messages/' + cid + '/read', { up_to_id: last });
			const u = await api('GET', '/api/messages/unread');
			setBadge('messages', u.unread);
			return r;
		} catch (e) {
			/* Read receipts are best effort; the next message retries. */
		}
	};
	hist.messages.forEach((m) => log.append(bubble(m)));
	older.addEventListener('click', async () => {
		try {
			const r = await api('GET', '/api/messages/' + cid +
			    query({ before_id: hist.messages[0].id, limit: 50 }));
			hist.messages = r.messages.concat(hist.messages);
			log.prepend(...r.messages.filter((m) => !seen.has(m.id)).map(bubble));
			older.hidden = !r.more;
		} catch (e) {
			typing.textContent = errorText(e);
		}
	});
	const body = field('Message', 'body', 'textarea', { attrs: { maxlength: 4000, required: true, rows: 3 },
	    hint: 'Ctrl+Enter sends.' });
	const f = form('Send a message to ' + peer, [body], async () => {
		const text = body.input.value;
		if (!text.trim())
			throw apiError('bad_request', 'body: write a message first', 0);
		const r = await api('POST', '/api/messages/' + cid,
		    { body: text, client_msg_id: randomId() });
		body.input.value = '';
		add(r.message);
		body.input.focus();
	}, 'Send');
	body.input.addEventListener('keydown', (ev) => {
		if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
			ev.preventDefault();
			f.requestSubmit();
		}
	});
	body.input.addEventListener('input', () => {
		/* Each request counts against the patient's rate limit: tell
		 * the doctor about typing at most every ten seconds. */
		const t = Date.now();
		if (t - lastTyping < 10000)
			return;
		lastTyping = t;
		api('POST', '/api/messages/' + cid + '/typing', {}).catch(() => {});
	});
	function add(m) {
		if (seen.has(m.id))
			return;
		hist.messages.push(m);
		log.append(bubble(m));
		log.scrollTop = log.scrollHeight;
		if (m.sender_id !== state.user.id) {
			typing.textContent = '';
			markRead();
		}
	}
	state.view = {
		name: 'conversation', id: cid, add: add,
		catchUp: async () => {
			const last = hist.messages.length ? hist.messages[hist.messages.length - 1].id : 0;
			try {
				const r = await api('GET', '/api/messages/' + cid +
				    query({ after_id: last, limit: 200 }));
				if (!ctx.current())
					return;
				r.messages.forEach(add);
				/* Presence, too, may have changed meanwhile. */
				(await api('GET', '/api/messages')).conversations
				    .forEach((c) => onPresence(c.peer));
			} catch (e) {
				/* The next live message or a reload shows them. */
			}
		},
		peerRead: (id) => {
			peerRead = Math.max(peerRead, id);
			hist.messages.forEach((m) => {
				if (m.sender_id === state.user.id && m.id <= peerRead)
					seen.get(m.id).lastChild.textContent = stamp(m.created_at) + ' · seen';
			});
		},
		typing: () => {
			typing.textContent = peer + ' is typing…';
			clearTimeout(typingTimer);
			typingTimer = setTimeout(() => { typing.textContent = ''; }, 5000);
		}
	};
	ctx.mount('Messages with ' + peer, [mark, h('p', null, h('a', { href: '#/messages', text: 'All conversations' })),
	    older, hist.messages.length ? null : h('p', { class: 'muted', text: 'No messages yet. Say hello.' }),
	    log, typing, f]);
	log.scrollTop = log.scrollHeight;
	markRead();
}

/* --- views: notifications and settings --- */

/* Where a notification leads: [hash, link text], or null. */
function noteLink(n) {
	if (n.kind === 'chat.message' && n.ref_id)
		return ['#/messages/' + n.ref_id, 'Open the conversation'];
	if (n.kind.startsWith('appt.') || n.kind === 'reminder.sent')
		return ['#/appointments', 'See my appointments'];
	if (n.kind === 'rx.new')
		return ['#/prescriptions', 'See my prescriptions'];
	if (n.kind === 'break_glass')
		return ['#/records', 'See my records'];
	if (n.kind === 'waitlist.offer')
		return ['#/book', 'Book an appointment'];
	return null;
}

async function viewNotifications(ctx) {
	let r;
	try {
		r = await api('GET', '/api/notifications' + query({ limit: 50 }));
	} catch (e) {
		loadFailed(ctx, 'Notifications', e);
		return;
	}
	if (!ctx.current())
		return;
	setBadge('notifications', r.unread);
	const err = h('p', { class: 'error', role: 'alert' });
	const list = h('ul', { class: 'plain', 'aria-label': 'Notifications' });
	const empty = h('p', { class: 'muted', text: 'No notifications.' });
	const item = (n) => {
		const li = h('li', { class: 'card' + (n.read_at ? '' : ' unread'), 'data-notification': n.id });
		const to = noteLink(n);
		const link = to ? h('a', { href: to[0], text: to[1] }) : null;
		const mark = n.read_at ? null : h('button', { type: 'button', class: 'secondary',
		    text: 'Mark as read', onclick: async () => {
			err.textContent = '';
			try {
				const x = await api('POST', '/api/notifications/' + n.id + '/read', {});
				setBadge('notifications', x.unread);
				li.replaceWith(item(x.notification));
			} catch (e) {
				err.textContent = errorText(e);
			}
		} });
		append(li, [h('h3', { text: n.title }), h('p', { text: n.body }),
		    h('p', { class: 'muted', text: stamp(n.created_at) + (n.read_at ? '' : ' · unread') }),
		    link, mark]);
		return li;
	};
	r.notifications.forEach((n) => list.append(item(n)));
	empty.hidden = r.notifications.length > 0;
	const all = h('button', { type: 'button', class: 'secondary', text: 'Mark all as read',
	    onclick: async () => {
		err.textContent = '';
		try {
			await api('POST', '/api/notifications/read-all', {});
			render(false);
		} catch (e) {
			err.textContent = errorText(e);
		}
	} });
	state.view = {
		name: 'notifications',
		add: (n) => {
			list.prepend(item(n));
			empty.hidden = true;
		}
	};
	ctx.mount('Notifications', [all, err, empty, list]);
}

async function viewSettings(ctx) {
	let ch = null, chErr = null;
	try {
		ch = await api('GET', '/api/me/reminder-channels');
	} catch (e) {
		chErr = e;
	}
	if (!ctx.current())
		return;
	const cur = field('Current password', 'current_password', 'password',
	    { attrs: { autocomplete: 'current-password', required: true } });
	const pw = field('New password', 'new_password', 'password', {
		attrs: { autocomplete: 'new-password', required: true, minlength: 12 },
		hint: 'At least 12 characters, not a dictionary word.'
	});
	const pw2 = field('Repeat the new password', 'new_password2', 'password',
	    { attrs: { autocomplete: 'new-password', required: true } });
	const pf = form('Change password', [cur, pw, pw2], async (f) => {
		if (pw.input.value !== pw2.input.value)
			throw apiError('bad_request', 'new_password2: the two passwords differ', 0);
		const r = await api('POST', '/api/auth/change-password',
		    { current_password: cur.input.value, new_password: pw.input.value });
		state.user = r.user;
		/* Every old session ended, the stream's too: follow the new one. */
		startEvents();
		cur.input.value = pw.input.value = pw2.input.value = '';
		f.okBox.textContent = 'Password changed. Other devices were logged out.';
	}, 'Change password');
	const nodes = [h('h2', { text: 'Password' }), pf, h('h2', { text: 'Reminders' })];
	if (ch === null)
		nodes.push(h('p', { class: 'error', role: 'alert', text: errorText(chErr) }));
	else {
		const opts = [['both', 'E-mail and text message'], ['email', 'E-mail only'],
		    ['sms', 'Text message only'], ['none', 'No reminders']];
		const set = h('fieldset', null, h('legend', { text: 'Send me appointment reminders by' }),
		    opts.map((o) => {
			const id = nextId('ch');
			return h('div', { class: 'choice' }, h('input', { type: 'radio', name: 'channels',
			    id: id, value: o[0], checked: ch.channels === o[0] }), h('label', { for: id, text: o[1] }));
		    }));
		const hints = [];
		if (!ch.email_address)
			hints.push('The clinic has no e-mail address for you.');
		if (!ch.sms_number)
			hints.push('Text messages need a mobile number in international form (+15551234567); the front desk can add it.');
		const rf = form('Reminder preferences', [set, hints.map((t) => h('p', { class: 'hint', text: t }))],
		    async (f) => {
			const c = f.querySelector('input[name="channels"]:checked');
			if (!c)
				throw apiError('bad_request', 'channels: choose one', 0);
			const r = await api('PUT', '/api/me/reminder-channels', { channels: c.value });
			f.okBox.textContent = 'Saved: ' + opts.find((o) => o[0] === r.channels)[1] + '.';
		}, 'Save reminder preferences');
		nodes.push(rf);
	}
	ctx.mount('Settings', nodes);
}

/* --- start --- */

document.getElementById('logout').addEventListener('click', logout);
document.querySelector('.skip').addEventListener('click', (ev) => {
	ev.preventDefault();
	const t = main.querySelector('h1') || main;
	t.focus();
});
window.addEventListener('hashchange', () => render(true));

(async function start() {
	try {
		const me = await api('GET', '/api/auth/me');
		await loggedIn(me.user, me);
	} catch (e) {
		/* 401: not logged in. Anything else: the login form says so. */
		if (e.status !== 401)
			state.startError = e;
	}
	document.body.dataset.ready = '1';
	render(false);
})();

})();
