#!/bin/sh
# tests/tui/run.sh -- the terminal client driven through tmux against a real
# mediflowd on a loopback port: keys go in with send-keys, the screen comes
# back with capture-pane, polled with a deadline rather than fixed sleeps.
#
# The server requires encryption (--require-encryption), so every client
# here speaks the secure channel; each one's config directory pins the
# server's key in known_servers unless a test wants otherwise.
#
# Prints cmocka's summary lines ("[  PASSED  ] N test(s).") so tests/run.sh
# counts the cases. Needs tmux; $O is the build directory.
set -u

O=${O:-build}
BIN=$(cd "$O" 2>/dev/null && pwd)
if [ -z "$BIN" ] || [ ! -x "$BIN/mediflow" ] || [ ! -x "$BIN/mediflowd" ]; then
	echo "tui: build first (make all); no $O/mediflow"
	echo "[  FAILED  ] 1 test(s), listed below:"
	exit 1
fi
if ! command -v tmux >/dev/null 2>&1; then
	echo "tui: tmux is not installed; skipped (make deps installs it)"
	echo "[  PASSED  ] 0 test(s)."
	exit 0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mf-tui.XXXXXX")
SOCK="mf-tui-$$"
TM="tmux -L $SOCK -f /dev/null"
PASSWORD=password123
NEW_PASSWORD='Vq7#mLp2@xNe9!kR'
NEW_EMAIL="tui.user.$$@test.com"
# A key fingerprint the server does not have.
OTHER_FP=SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
srv_pid=
port=
server_fp=
restarted_at=1
target=
passed=0
failed=0
failed_names=

cleanup() {
	$TM kill-server 2>/dev/null
	if [ -n "$srv_pid" ]; then
		kill "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# --- the server ---

# start_server ADDR: runs mediflowd with demo data and the test clock,
# encrypted connections only and debug lines (the handshakes) in its log,
# and waits until it names its port; server_fp is its key's fingerprint.
start_server() {
	: >"$TMP/server.out"
	"$BIN/mediflowd" --demo --test-clock --require-encryption --verbose \
	    --data-dir "$TMP/data" --listen "$1" \
	    >"$TMP/server.out" 2>>"$TMP/server.log" &
	srv_pid=$!
	# Seeding the demo accounts hashes their passwords: slow on a busy machine.
	end=$(($(now_ms) + 60000))
	while [ "$(now_ms)" -lt "$end" ]; do
		port=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$TMP/server.out")
		if [ -n "$port" ]; then
			server_fp=$("$BIN/mediflowd" --fingerprint --data-dir "$TMP/data")
			return 0
		fi
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "mediflowd did not start:"
	sed 's/^/| /' "$TMP/server.log"
	return 1
}

stop_server() {
	kill "$srv_pid" 2>/dev/null
	wait "$srv_pid" 2>/dev/null
	srv_pid=
}

# Moves the server's clock to the target, a weekday at 08:00 UTC: the whole
# working day is ahead, so booking and checking in never depend on when the
# suite runs.
set_clock() {
	advance=$((target - $(date -u +%s)))
	[ "$advance" -gt 0 ] || return 0
	XDG_CONFIG_HOME="$TMP/cfg-call" "$BIN/mediflow" --fingerprint "$server_fp" \
	    --server "127.0.0.1:$port" call test.clock "{\"advance\": $advance}" \
	    >"$TMP/clock.out" 2>&1 || { cat "$TMP/clock.out"; return 1; }
}

pick_target() {
	now=$(date -u +%s)
	day=$((now / 86400 * 86400))
	d=1
	# Not three days ahead: the demo data has Dr. Okafor's 09:00 taken then
	# (a Friday's next weekday), and the tests book it.
	while :; do
		target=$((day + d * 86400 + 8 * 3600))
		[ "$(date -u -d "@$target" +%u)" -le 5 ] && [ "$d" -ne 3 ] && break
		d=$((d + 1))
	done
}

# --- the terminals ---

# pin NAME FINGERPRINT: the key client NAME trusts for the server.
pin() {
	mkdir -p "$TMP/cfg-$1/mediflow"
	echo "127.0.0.1:$port $2" >"$TMP/cfg-$1/mediflow/known_servers"
}

known_servers() {
	cat "$TMP/cfg-$1/mediflow/known_servers" 2>/dev/null
}

# open_client NAME [VAR=VALUE | --FLAG | unpinned]...: a tmux window running
# the client, 120x40, with that environment and those flags; the server's
# key is pinned first unless unpinned (or the test pinned one itself).
open_client() {
	name=$1
	shift
	envs= flags= pinned=1
	for a; do
		case $a in
		unpinned) pinned= ;;
		--*) flags="$flags $a" ;;
		*) envs="$envs $a" ;;
		esac
	done
	mkdir -p "$TMP/cfg-$name"
	if [ -n "$pinned" ] && [ ! -e "$TMP/cfg-$name/mediflow/known_servers" ]; then
		pin "$name" "$server_fp"
	fi
	cmd="env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC \
	    XDG_CONFIG_HOME=$TMP/cfg-$name $envs $BIN/mediflow $flags \
	    --server 127.0.0.1:$port; echo mediflow exited \$?; sleep 60"
	if $TM has-session -t mf 2>/dev/null; then
		$TM new-window -d -t mf -n "$name" "$cmd"
	else
		$TM new-session -d -s mf -x 120 -y 40 -n "$name" "$cmd"
	fi
	$TM resize-window -t "mf:$name" -x 120 -y 40
}

screen() {
	$TM capture-pane -p -t "mf:$1"
}

keys() {
	w=$1
	shift
	$TM send-keys -t "mf:$w" "$@"
}

type_text() {
	$TM send-keys -t "mf:$1" -l "$2"
}

# wait_for WINDOW TEXT [MS]: polls the screen until TEXT shows.
wait_for() {
	end=$(($(now_ms) + ${3:-10000}))
	while :; do
		screen "$1" | grep -qF -- "$2" && return 0
		[ "$(now_ms)" -ge "$end" ] && break
		sleep 0.05
	done
	echo "window $1 did not show \"$2\" within ${3:-10000} ms; it showed:"
	screen "$1" | sed 's/^/| /'
	return 1
}

# wait_gone WINDOW TEXT [MS]
wait_gone() {
	end=$(($(now_ms) + ${3:-10000}))
	while :; do
		screen "$1" | grep -qF -- "$2" || return 0
		[ "$(now_ms)" -ge "$end" ] && break
		sleep 0.05
	done
	echo "window $1 still showed \"$2\" after ${3:-10000} ms:"
	screen "$1" | sed 's/^/| /'
	return 1
}

# A line of the screen holding both texts (a board row: time and patient).
wait_line() {
	end=$(($(now_ms) + ${4:-10000}))
	while :; do
		screen "$1" | grep -F -- "$2" | grep -qF -- "$3" && return 0
		[ "$(now_ms)" -ge "$end" ] && break
		sleep 0.05
	done
	echo "window $1 showed no line with \"$2\" and \"$3\"; it showed:"
	screen "$1" | sed 's/^/| /'
	return 1
}

# wait_line_without WINDOW TEXT NOT [MS]: a line with TEXT shows, and none
# with TEXT holds NOT.
wait_line_without() {
	end=$(($(now_ms) + ${4:-10000}))
	while :; do
		if screen "$1" | grep -qF -- "$2" &&
		    ! screen "$1" | grep -F -- "$2" | grep -qF -- "$3"; then
			return 0
		fi
		[ "$(now_ms)" -ge "$end" ] && break
		sleep 0.05
	done
	echo "window $1 showed no line with \"$2\" but without \"$3\"; it showed:"
	screen "$1" | sed 's/^/| /'
	return 1
}

login() {
	wait_for "$1" "E-mail" || return 1
	type_text "$1" "$2"
	keys "$1" Enter
	type_text "$1" "$3"
	keys "$1" Enter
}

# The screen is whole: W columns by H lines, the tab bar on top, the status
# bar at the bottom, nothing wider than the window, and redrawing from
# scratch (C-l) changes nothing.
screen_whole() {
	win=$1 w=$2 h=$3 who=$4
	screen "$win" >"$TMP/before"
	lines=$(wc -l <"$TMP/before")
	[ "$lines" -eq "$h" ] || { echo "$lines lines, want $h"; return 1; }
	wide=$(LC_ALL=C.UTF-8 wc -L <"$TMP/before")
	[ "$wide" -le "$w" ] || { echo "a line $wide columns wide, more than $w"; return 1; }
	head -n 1 "$TMP/before" | grep -q '^ MediFlow' || { echo "no tab bar"; return 1; }
	tail -n 1 "$TMP/before" | grep -qF "$who" || { echo "no status bar"; cat "$TMP/before"; return 1; }
	tail -n 1 "$TMP/before" | grep -qF "connected" || { echo "status bar without the connection"; return 1; }
	keys "$win" C-l
	sleep 0.3
	screen "$win" >"$TMP/after"
	# The clock in the status bar may turn a minute meanwhile.
	sed -i '$s/[0-9][0-9]:[0-9][0-9] *$//' "$TMP/before" "$TMP/after"
	if ! cmp -s "$TMP/before" "$TMP/after"; then
		echo "the screen changed when redrawn from scratch:"
		diff "$TMP/before" "$TMP/after" | sed 's/^/| /'
		return 1
	fi
}

# --- the cases ---

test_receptionist_logs_in_and_sees_the_board() {
	open_client desk
	login desk receptionist@test.com "$PASSWORD" || return 1
	wait_for desk "Maria Lopez (receptionist)" || return 1
	wait_for desk "Dr. Sarah Chen" || return 1
	wait_for desk "Dr. Michael Okafor" || return 1
	wait_for desk "(today)"
}

test_second_board_is_open() {
	open_client admin
	login admin admin@test.com "$PASSWORD" || return 1
	wait_for admin "Alex Morgan (admin)" && wait_for admin "Dr. Sarah Chen"
}

# b, three letters, Enter, Enter: six keys book the next free slot of the
# doctor under the cursor (Dr. Michael Okafor, the first column).
test_book_a_patient_in_six_keys() {
	keys desk b
	wait_for desk "Book Dr. Michael Okafor" || return 1
	type_text desk smi
	wait_for desk "> John Smith" || return 1
	keys desk Enter
	wait_for desk "Confirm the booking" || return 1
	keys desk Enter
	wait_for desk "Booked John Smith with Dr. Michael Okafor" || return 1
	wait_line desk "09:00" "John Smith"
}

# m on a booked appointment asks for a reminder now; the test server sends
# no e-mail or SMS, and its reason shows on the message line.
test_reminder_from_the_board_shows_why_not() {
	keys desk m
	wait_for desk "No reminder sent: cannot reach the patient"
}

test_other_board_shows_it_within_a_second() {
	wait_line admin "09:00" "John Smith" 1000
}

# c on the booked appointment under the cursor: one key.
test_check_in_in_one_key() {
	keys desk c
	wait_for desk "Checked in John Smith" || return 1
	wait_line desk "John Smith" "arrived" || return 1
	wait_line admin "John Smith" "arrived" 1000
}

# b on the board holds the slot it offers: the other board names who holds
# it; leaving the slot lets it go, and the other board sees it free again.
test_offered_slot_shows_as_held_on_the_other_board() {
	keys desk b
	wait_for desk "Book Dr. Michael Okafor" || return 1
	wait_for admin "held: Maria Lopez" 2000 || return 1
	keys desk Escape
	wait_for desk "held by you" || return 1
	keys desk k
	wait_gone desk "held by you" || return 1
	wait_gone admin "held: Maria Lopez" 2000
}

# P writes the day sheet of the doctor under the cursor as plain text.
test_day_sheet_is_written_to_a_file() {
	keys desk P
	wait_for desk "Day sheet: Dr. Michael Okafor" || return 1
	wait_for desk "mediflow-daysheet-dr-michael-okafor-" || return 1
	keys desk C-u
	type_text desk "$TMP/sheet.txt"
	keys desk Enter
	wait_for desk "Day sheet written to $TMP/sheet.txt" || return 1
	grep -q "^MediFlow day sheet" "$TMP/sheet.txt" &&
	    grep -q "^Dr. Michael Okafor - " "$TMP/sheet.txt" &&
	    grep -q "^09:00-09:30  John Smith  *arrived" "$TMP/sheet.txt" || {
		sed 's/^/| /' "$TMP/sheet.txt"
		return 1
	}
}

# wait_no_line WINDOW A B [MS]: no line of the screen holds both texts, within MS.
wait_no_line() {
	end=$(($(now_ms) + ${4:-10000}))
	while :; do
		screen "$1" | grep -F -- "$2" | grep -qF -- "$3" || return 0
		[ "$(now_ms)" -ge "$end" ] && break
		sleep 0.05
	done
	echo "window $1 still showed a line with \"$2\" and \"$3\":"
	screen "$1" | sed 's/^/| /'
	return 1
}

command_line() {
	keys "$1" :
	wait_for "$1" "b PATIENT[/YEAR] [DAY] [HH:MM] [DOCTOR]" || return 1
	type_text "$1" "$2"
	keys "$1" Enter
}

# :b books by patient, time and doctor in one line; :u undoes it, and the
# other board follows both. (Board rows are "HH:MM │ ...".)
test_command_line_books_and_undoes() {
	command_line desk "b emily 11:00 raman" || return 1
	wait_for desk "Booked Emily Johnson with Dr. Priya Raman" || return 1
	wait_line desk "11:00 │" "Emily Johnson" || return 1
	wait_line admin "11:00 │" "Emily Johnson" 1000 || return 1
	command_line desk "u" || return 1
	wait_for desk "Undone: cancelled the booking of Emily Johnson" || return 1
	wait_no_line desk "11:00 │" "Emily Johnson" || return 1
	wait_no_line admin "11:00 │" "Emily Johnson" 1000 || return 1
	# Undoing a cancellation books it again.
	command_line desk "b smith 11:15 priya" || return 1
	wait_for desk "Booked John Smith with Dr. Priya Raman" || return 1
	wait_line desk "11:15 │" "John Smith" || return 1
	command_line desk "x" || return 1
	wait_for desk "Cancelled John Smith" || return 1
	wait_no_line desk "11:15 │" "John Smith" || return 1
	command_line desk "u" || return 1
	wait_for desk "Undone: booked again John Smith" || return 1
	wait_line desk "11:15 │" "John Smith"
}

# A name that fits several patients asks which one (UTF-8 names line up);
# the server's refusal shows in the status line.
test_command_line_asks_only_when_ambiguous() {
	command_line desk "b j 11:30 raman" || return 1
	wait_for desk 'Which patient "j"?' || return 1
	wait_for desk "José García" || return 1
	wait_for desk "John Smith" || return 1
	keys desk Escape
	wait_for desk "Nothing done: b j 11:30 raman" || return 1
	command_line desk "b smith 21:00 chen" || return 1
	wait_for desk "Not booked: starts_at: outside the doctor's hours" || return 1
	command_line desk "b nobody-at-all" || return 1
	wait_for desk 'Not booked: no patient "nobody-at-all"'
}

# H edits the weekly hours of the doctor under the cursor: a Saturday
# session appears as free slots on that Saturday's board.
test_desk_edits_a_doctors_weekly_hours() {
	keys desk H
	wait_for desk "Weekly hours of Dr." || return 1
	wait_for desk "Monday     09:00-12:00/" || return 1
	keys desk Tab Tab Tab Tab Tab
	type_text desk "10:00-09:00/30"
	keys desk Enter
	wait_for desk '"10:00-09:00/30": must end after it starts' || return 1
	keys desk C-u
	type_text desk "09:00-11:00/30"
	keys desk Enter
	wait_for desk "Saved the weekly hours of Dr." || return 1
	command_line desk "d sat" || return 1
	wait_line desk "09:30 │" "free" || return 1
	wait_line desk "10:30 │" "free" || return 1
	keys desk t
	wait_for desk "(today)"
}

test_help_shows_the_keys_of_the_screen() {
	keys desk '?'
	wait_for desk "Keys: Day board" || return 1
	wait_for desk "book the next free slot of this doctor" || return 1
	keys desk q
	wait_gone desk "Keys: Day board"
}

# A first key: the fingerprint in a dialog; y pins it and logs in.
test_first_key_is_asked_about_then_pinned() {
	open_client doctor unpinned
	login doctor doctor@test.com "$PASSWORD" || return 1
	wait_for doctor "Trust this server? y/N" || return 1
	wait_for doctor "$server_fp" || return 1
	keys doctor y
	wait_for doctor "Dr. Sarah Chen (doctor)" || return 1
	[ "$(known_servers doctor)" = "127.0.0.1:$port $server_fp" ] || {
		echo "known_servers holds: $(known_servers doctor)"
		return 1
	}
}

# n (or Esc, or Enter) refuses: no pin, still on the login screen.
test_first_key_refused_stays_on_the_login_screen() {
	open_client refuse unpinned
	login refuse patient@test.com "$PASSWORD" || return 1
	wait_for refuse "Trust this server? y/N" || return 1
	keys refuse n
	wait_for refuse "you did not trust the key" || return 1
	wait_gone refuse "Trust this server?" || return 1
	screen refuse | tail -n 1 | grep -qF "not logged in" || return 1
	[ -z "$(known_servers refuse)" ] || {
		echo "a key was pinned: $(known_servers refuse)"
		return 1
	}
}

# A pin that is not the server's key: the loud warning with both
# fingerprints, and the server sees the connection end in the handshake,
# before any request could be sent.
test_changed_key_shows_the_warning_and_does_not_log_in() {
	left=$(grep -c "peer left during the handshake" "$TMP/server.log")
	pin changed "$OTHER_FP"
	open_client changed
	login changed receptionist@test.com "$PASSWORD" || return 1
	wait_for changed "WARNING: THE SERVER'S KEY HAS CHANGED!" || return 1
	wait_for changed "expected: $OTHER_FP" || return 1
	wait_for changed "received: $server_fp" || return 1
	screen changed | tail -n 1 | grep -qF "not logged in" || return 1
	end=$(($(now_ms) + 5000))
	while [ "$(grep -c "peer left during the handshake" "$TMP/server.log")" \
	    -le "$left" ]; do
		if [ "$(now_ms)" -ge "$end" ]; then
			echo "the server did not see the client leave in the handshake"
			return 1
		fi
		sleep 0.05
	done
	# Keys do nothing but quit.
	type_text changed "x1"
	keys changed Enter
	sleep 0.2
	screen changed | grep -qF "THE SERVER'S KEY HAS CHANGED" || return 1
	[ "$(known_servers changed)" = "127.0.0.1:$port $OTHER_FP" ] || return 1
	keys changed q
	wait_for changed "mediflow exited 0"
}

test_patient_requests_and_doctor_approves() {
	keys doctor 2
	wait_for doctor "Pending requests" || return 1
	open_client patient
	login patient emily.johnson@test.com "$PASSWORD" || return 1
	wait_for patient "Emily Johnson (patient)" || return 1
	keys patient b
	wait_for patient "Book: choose a doctor" || return 1
	type_text patient chen
	wait_for patient "> Dr. Sarah Chen" || return 1
	keys patient Enter
	wait_for patient "Book: choose a time" || return 1
	wait_for patient "> 09:00-09:20" || return 1
	keys patient Enter
	wait_for patient "Reason for the visit" || return 1
	type_text patient "Cough since Friday"
	keys patient Enter
	wait_for patient "Requested" || return 1
	# The request reaches the doctor's list by itself.
	wait_line doctor "Emily Johnson" "Cough since Friday" 1000 || return 1
	keys doctor g a
	wait_for doctor "Approved Emily Johnson" || return 1
	wait_gone doctor "Cough since Friday" || return 1
	wait_line patient "Dr. Sarah Chen" "booked" 1000
}

# o on the doctor's day opens the chart: a record written through the form
# (a bad vital refused in place first), a file attached to it, a
# prescription and its printable text, and a reminder the server refuses
# with its reason.
test_doctor_writes_a_record_and_a_prescription_in_the_chart() {
	keys doctor 1
	wait_line doctor "Emily Johnson" "booked" || return 1
	keys doctor g o
	wait_for doctor "Chart: Emily Johnson" || return 1
	wait_for doctor "Records 0" || return 1
	keys doctor w
	wait_for doctor "New record for Emily Johnson" || return 1
	type_text doctor "Acute bronchitis"
	keys doctor Enter
	type_text doctor "J20.9"
	keys doctor Enter
	type_text doctor "Cough since Friday"
	keys doctor Enter Enter
	type_text doctor "pulse=300 temp=38.1"
	keys doctor Enter Enter Enter
	wait_for doctor "pulse: must be from 20 to 250" || return 1
	keys doctor C-u
	type_text doctor "pulse=88 temp=38.1"
	keys doctor Enter
	wait_for doctor 'Wrote the record "Acute bronchitis" (version 1)' || return 1
	wait_line doctor "J20.9" "Acute bronchitis" || return 1
	# A file from a local path, attached to that record in chunks.
	printf 'Chest X-ray: no consolidation.\nRadiologist: Zoë Brandt\n' >"$TMP/lab.txt"
	keys doctor f
	wait_for doctor "Attach a file" || return 1
	type_text doctor "$TMP/lab.txt"
	keys doctor Enter
	wait_for doctor "Attached lab.txt ($(wc -c <"$TMP/lab.txt") bytes, text/plain)" ||
		return 1
	wait_line doctor "lab.txt" "text/plain" || return 1
	keys doctor N
	wait_for doctor "New prescription for Emily Johnson" || return 1
	type_text doctor "Amoxicillin"
	keys doctor Enter
	type_text doctor "500 mg"
	keys doctor Enter c Enter
	type_text doctor "1 capsule"
	keys doctor Enter Enter
	type_text doctor "three times daily"
	keys doctor Enter
	type_text doctor "7"
	keys doctor Enter
	type_text doctor "21"
	keys doctor Enter Enter Enter Enter
	wait_for doctor "written for Emily Johnson" || return 1
	wait_line doctor "active" "Amoxicillin 500 mg" || return 1
	keys doctor Enter
	wait_for doctor "1. Amoxicillin 500 mg capsule" || return 1
	keys doctor Enter Tab Tab m
	wait_for doctor "No reminder sent: cannot reach the patient" || return 1
	keys doctor q
	wait_gone doctor "Chart: Emily Johnson"
}

# The patient writes to the doctor: the doctor's Chat tab counts it unread
# without a key, reading it shows "(read)" on the patient's side, and the
# doctor's typing and reply reach the patient live.
# The patient reads what the doctor wrote: the record and the printable
# prescription (shown, then written to a file), in a tab of their own that
# has no writing keys.
test_patient_reads_own_records_and_prescriptions() {
	keys patient 2
	wait_for patient "Chart: Emily Johnson" || return 1
	wait_line patient "J20.9" "Acute bronchitis" || return 1
	keys patient Enter
	wait_for patient "Vitals: pulse 88, temp 38.1" || return 1
	keys patient Enter Tab
	wait_line patient "active" "Amoxicillin 500 mg" || return 1
	keys patient Enter
	wait_for patient "1. Amoxicillin 500 mg capsule" || return 1
	keys patient Enter p
	wait_for patient "Print: Prescription #" || return 1
	keys patient C-u
	type_text patient "$TMP/rx.txt"
	keys patient Enter
	wait_for patient "written to $TMP/rx.txt" || return 1
	grep -q "1. Amoxicillin 500 mg capsule" "$TMP/rx.txt" || {
		sed 's/^/| /' "$TMP/rx.txt"
		return 1
	}
	keys patient N
	sleep 0.2
	if screen patient | grep -qF "New prescription"; then
		echo "a patient got the prescription form"
		return 1
	fi
}

test_chat_between_patient_and_doctor_is_live() {
	keys patient 3
	wait_for patient "Conversations" || return 1
	keys patient n
	wait_for patient "Chat with" || return 1
	type_text patient chen
	wait_for patient "> Dr. Sarah Chen" || return 1
	keys patient Enter
	wait_for patient "Dr. Sarah Chen (doctor)" || return 1
	type_text patient "Is the clinic open on Saturday?"
	keys patient Enter
	wait_line patient "you" ":" || return 1
	wait_for doctor "3 Chat (1)" 2000 || return 1
	keys doctor 3
	wait_for doctor "Is the clinic open on Saturday?" || return 1
	wait_gone doctor "Chat (1)" || return 1
	wait_line patient "you" "(read)" 2000 || return 1
	keys doctor Enter
	type_text doctor "Yes, 9 to 12."
	wait_for patient "Dr. Sarah Chen is typing..." 2000 || return 1
	keys doctor Enter
	wait_for patient "Yes, 9 to 12." 2000
}

# The chart and the chat pane stay whole at 80x24 too.
test_chart_and_chat_fit_80x24() {
	$TM resize-window -t mf:doctor -x 80 -y 24
	# Out of the chat's writing line first.
	keys doctor Escape 1
	wait_line doctor "Emily Johnson" "booked" || return 1
	keys doctor g o
	wait_for doctor "Chart: Emily Johnson" || return 1
	wait_for doctor "Records 1" || return 1
	sleep 0.3
	screen_whole doctor 80 24 "Dr. Sarah Chen (doctor)" || return 1
	keys doctor q 3
	wait_for doctor "Conversations" || return 1
	wait_for doctor "Yes, 9 to 12." || return 1
	sleep 0.3
	screen_whole doctor 80 24 "Dr. Sarah Chen (doctor)" || return 1
	keys doctor Escape 1
	$TM resize-window -t mf:doctor -x 120 -y 40
}

test_admin_creates_a_user_who_logs_in() {
	keys admin 2
	wait_for admin "Users:" || return 1
	keys admin n
	wait_for admin "New user" || return 1
	type_text admin "$NEW_EMAIL"
	keys admin Enter
	type_text admin "Zoë Tester"
	keys admin Enter Enter Enter
	type_text admin "$NEW_PASSWORD"
	keys admin Enter
	wait_for admin "Created Zoë Tester (receptionist)" || return 1
	wait_line admin "Zoë Tester" "$NEW_EMAIL" || return 1
	# --trust-new-key pins a first key without asking.
	open_client newuser unpinned --trust-new-key
	login newuser "$NEW_EMAIL" "$NEW_PASSWORD" || return 1
	wait_for newuser "Zoë Tester (receptionist)" || return 1
	wait_for newuser "Day board" || return 1
	[ "$(known_servers newuser)" = "127.0.0.1:$port $server_fp" ]
}

# F asks the server for one action's entries; the outbox lists reminders by
# state (none here: the test server sends no e-mail or SMS).
test_admin_filters_the_audit_log_and_sees_the_outbox() {
	keys admin 4
	wait_for admin "Hash chain: intact" || return 1
	keys admin F
	wait_for admin "Audit log: ask the server for" || return 1
	keys admin Tab Tab
	type_text admin "auth.login"
	keys admin Enter
	wait_for admin "entries loaded, action auth.login" || return 1
	wait_line admin "auth.login" "$NEW_EMAIL" || return 1
	if screen admin | grep -F "admin #" | grep -qvF "auth.login"; then
		echo "an entry of another action is shown"
		return 1
	fi
	keys admin 5
	wait_for admin "Reminder outbox: 0 shown of 0   state: all" || return 1
	keys admin f f f
	wait_for admin "state: failed" || return 1
	keys admin 2
	wait_for admin "Users:"
}

test_form_shows_server_errors_in_place() {
	keys admin n
	wait_for admin "New user" || return 1
	type_text admin "not-an-address"
	keys admin Enter
	type_text admin "X"
	keys admin Enter Enter Enter Enter
	wait_line admin "" "not a valid e-mail address" || return 1
	keys admin Escape
	wait_gone admin "New user"
}

test_resize_keeps_the_screen_whole() {
	keys desk 1
	$TM resize-window -t mf:desk -x 80 -y 24
	wait_for desk "Time" || return 1
	sleep 0.3
	screen_whole desk 80 24 "Maria Lopez (receptionist)" || return 1
	wait_line desk "John Smith" "arr" || return 1
	$TM resize-window -t mf:desk -x 200 -y 60
	sleep 0.3
	screen_whole desk 200 60 "Maria Lopez (receptionist)" || return 1
	wait_line desk "John Smith" "arrived"
}

test_screen_locks_and_password_unlocks() {
	open_client lock MEDIFLOW_LOCK_AFTER=2
	login lock receptionist@test.com "$PASSWORD" || return 1
	wait_for lock "Dr. Sarah Chen" || return 1
	wait_for lock "Screen locked" 6000 || return 1
	if screen lock | grep -q "John Smith"; then
		echo "patient data visible on the locked screen"
		return 1
	fi
	type_text lock "wrong-password"
	keys lock Enter
	wait_for lock "wrong e-mail or password" || return 1
	type_text lock "$PASSWORD"
	keys lock Enter
	wait_for lock "John Smith" || return 1
	wait_gone lock "Screen locked" 1000
}

# desk_on_doctor WINDOW NAME: moves the board's cursor to that doctor's
# column (w names the doctor under the cursor; Escape leaves it unused).
desk_on_doctor() {
	i=0
	while [ "$i" -lt 5 ]; do
		keys "$1" w
		wait_for "$1" "Walk-in with Dr." || return 1
		if screen "$1" | grep -qF "Walk-in with $2"; then
			keys "$1" Escape
			wait_gone "$1" "Walk-in with Dr." || return 1
			return 0
		fi
		keys "$1" Escape
		wait_gone "$1" "Walk-in with Dr." || return 1
		keys "$1" l
		i=$((i + 1))
	done
	echo "no column of $2 on the board"
	return 1
}

# w on Dr. Chen's column: the patient picked is booked into her time now
# (her next free slot today) and checked in; both boards show it.
test_walk_in_is_checked_in_on_the_board() {
	desk_on_doctor desk "Dr. Sarah Chen" || return 1
	keys desk w
	wait_for desk "Walk-in with Dr. Sarah Chen" || return 1
	type_text desk robert
	wait_for desk "> Robert Williams" || return 1
	keys desk Enter
	wait_for desk "Walk-in Robert Williams checked in with Dr. Sarah Chen" || return 1
	wait_line desk "Robert Will" "arrived" || return 1
	keys admin 1
	wait_line admin "Robert Will" "arrived" 2000 || return 1
	keys admin 2
	wait_for admin "Users: "
}

# W lists the doctor's wait list; a adds a patient (the window defaults to
# the next two weeks). Cancelling the walk-in frees time in that window:
# the offer to the wait list shows on the board's message line.
test_wait_list_adds_and_shows_the_offer() {
	keys desk W
	wait_for desk "Wait list of Dr. Sarah Chen" || return 1
	wait_for desk "waiting, oldest first" || return 1
	keys desk a
	wait_for desk "Add to the wait list of Dr. Sarah Chen" || return 1
	type_text desk aisha
	wait_for desk "> Aisha Khan" || return 1
	keys desk Enter
	wait_for desk "From (YYYY-MM-DD)" || return 1
	keys desk Enter Enter
	type_text desk "Mornings only"
	keys desk Enter
	wait_for desk "Aisha Khan is on the wait list of Dr. Sarah Chen" || return 1
	wait_line desk "Aisha Khan" "Mornings only" || return 1
	wait_line desk "Aisha Khan" "waiting" || return 1
	keys desk Escape
	wait_gone desk "Wait list of Dr. Sarah Chen" || return 1
	mlogin deskcli receptionist@test.com || return 1
	doc=$(mcall deskcli doctors.list '{"limit": 200}' | pyq \
	    '[d["id"] for d in v["result"]["doctors"] if "Chen" in d["full_name"]][0]') || return 1
	walkin=$(mcall deskcli appt.list "{\"doctor_id\": $doc, \"status\": \"checked_in\", \"date\": \"$(date -u -d "@$target" +%F)\"}" | \
	    pyq '[a["id"] for a in v["result"]["appointments"] if a["patient_name"] == "Robert Williams"][0]') || return 1
	mcall deskcli appt.cancel "{\"id\": $walkin}" >"$TMP/wl-cancel.out" ||
	    { cat "$TMP/wl-cancel.out"; return 1; }
	wait_for desk "with Dr. Sarah Chen offered to" || return 1
	wait_for desk "(wait list)" || return 1
	# x (asked first) takes the newest entry off again.
	keys desk W
	wait_line desk "Aisha Khan" "Mornings only" || return 1
	keys desk G x
	wait_for desk "Take Aisha Khan off the wait list of Dr. Sarah Chen?" || return 1
	keys desk y
	wait_for desk "Took Aisha Khan off the wait list of Dr. Sarah Chen." || return 1
	wait_gone desk "Mornings only" || return 1
	keys desk Escape
	wait_gone desk "Wait list of Dr. Sarah Chen"
}

# C lists the recalls due (the demo's three: three days overdue, one due on
# the demo's day -- overdue too, as the test clock is days ahead -- and one
# next month); d marks the one under the cursor done and it leaves the list,
# and a adds one.
test_recall_list_marks_one_done() {
	keys desk C
	wait_for desk "Recalls: patients due back" || return 1
	wait_for desk "3 due by" || return 1
	wait_line desk "> " "Margaret O'Brien" || return 1
	wait_line desk "overdue" "Six-monthly" || return 1
	wait_line desk "Grace Mensah" "Repeat ECG" || return 1
	wait_line desk "Lukas Novak" "Annual check" || return 1
	# The list fits 80x24 too.
	$TM resize-window -t mf:desk -x 80 -y 24
	sleep 0.3
	screen_whole desk 80 24 "Maria Lopez (receptionist)" || return 1
	wait_line desk "overdue" "Margaret O'Brien" || return 1
	$TM resize-window -t mf:desk -x 200 -y 60
	sleep 0.3
	wait_line desk "Lukas Novak" "Annual check" || return 1
	keys desk d
	wait_for desk "Recall of Margaret O'Brien marked done." || return 1
	wait_for desk "2 due by" || return 1
	wait_gone desk "Six-monthly" || return 1
	wait_line desk "> " "Grace Mensah" || return 1
	wait_for desk "Lukas Novak" || return 1
	# a adds one: the patient, the due date (two weeks on), the reason.
	keys desk a
	wait_for desk "Recall a patient" || return 1
	type_text desk wei
	wait_for desk "> Wei Zhang" || return 1
	keys desk Enter
	wait_for desk "Due by (YYYY-MM-DD)" || return 1
	keys desk Enter
	type_text desk "Blood test results"
	keys desk Enter Enter
	wait_for desk "Wei Zhang is due back by" || return 1
	wait_for desk "3 due by" || return 1
	wait_line desk "Wei Zhang" "Dr. Sarah Chen" || return 1
	keys desk Escape
	wait_gone desk "Recalls: patients due back"
}

test_server_restart_is_survived() {
	keys desk 1
	keys admin 1
	wait_for admin "Time" || return 1
	stop_server
	# For test_reconnect_rechecks_the_pin.
	pin lock "$OTHER_FP"
	restarted_at=$(($(wc -l <"$TMP/server.log") + 1))
	wait_for desk "reconnecting" 5000 || return 1
	screen desk | tail -n 1 | grep -qF "reconnecting" || return 1
	start_server "127.0.0.1:$port" || return 1
	set_clock || return 1
	wait_for desk "session restored" 10000 || return 1
	screen desk | tail -n 1 | grep -qF "| connected" || return 1
	wait_line desk "John Smith" "arrived" || return 1
	wait_for admin "session restored" 10000 || return 1
	wait_line admin "John Smith" "arrived"
}

test_quit_exits_cleanly() {
	keys newuser q
	wait_for newuser "Leave MediFlow?" || return 1
	keys newuser y
	wait_for newuser "mediflow exited 0"
}

# While the server was down, the lock window's pin became another key (as
# if a machine in the middle answered now): reconnecting re-checks the pin,
# so it shows the warning instead of resuming its session, and the server
# sees that connection end in the handshake.
test_reconnect_rechecks_the_pin() {
	wait_for lock "WARNING: THE SERVER'S KEY HAS CHANGED!" 10000 || return 1
	wait_for lock "expected: $OTHER_FP" || return 1
	wait_for lock "received: $server_fp" || return 1
	screen lock | tail -n 1 | grep -qF "offline: the server's key has changed" ||
		return 1
	tail -n +"$restarted_at" "$TMP/server.log" |
	    grep -qF "peer left during the handshake" || {
		echo "the server saw no handshake end"
		return 1
	}
}

# Ctrl-C ends a client on any screen, even locked or warning; under ASan a
# leak or a bad access would change the status.
test_every_client_exits_cleanly() {
	for w in desk admin doctor patient lock refuse; do
		keys "$w" C-c
	done
	for w in desk admin doctor patient lock refuse; do
		wait_for "$w" "mediflow exited 0" || return 1
	done
}

run() {
	echo "[ RUN      ] $1"
	if "$1"; then
		echo "[       OK ] $1"
		passed=$((passed + 1))
	else
		echo "[  FAILED  ] $1"
		failed=$((failed + 1))
		failed_names="$failed_names $1"
	fi
}

# mcall NAME OP JSON: one request as the CLI user logged in under NAME.
mcall() {
	XDG_CONFIG_HOME="$TMP/cfg-call-$1" "$BIN/mediflow" --fingerprint "$server_fp" \
	    --server "127.0.0.1:$port" call "$2" "$3"
}

# mlogin NAME EMAIL: logs the CLI in (the password from a pipe).
mlogin() {
	mkdir -p "$TMP/cfg-call-$1"
	echo "$PASSWORD" | XDG_CONFIG_HOME="$TMP/cfg-call-$1" "$BIN/mediflow" \
	    --fingerprint "$server_fp" --server "127.0.0.1:$port" login "$2" \
	    >"$TMP/login-$1.out" 2>&1 || { cat "$TMP/login-$1.out"; return 1; }
}

# pyq EXPR: a Python expression over v, the JSON reply on stdin.
pyq() {
	/usr/bin/python3 -c 'import json, sys
v = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}

# With Dr. Okafor's day at a cap of one, the desk's plain booking is refused
# and its overbook goes in: every board marks it "+" before the name.
test_overbook_is_marked_on_every_board() {
	mlogin admincli admin@test.com || return 1
	mlogin deskcli receptionist@test.com || return 1
	doc=$(mcall deskcli doctors.list '{"limit": 200}' | pyq \
	    '[d["id"] for d in v["result"]["doctors"] if "Okafor" in d["full_name"]][0]') || return 1
	mcall admincli daily_cap.set "{\"doctor_id\": $doc, \"daily_cap\": 1, \"overbooks\": 1}" \
	    >"$TMP/cap.out" || { cat "$TMP/cap.out"; return 1; }
	pat=$(mcall deskcli patients.search '{"q": "emily johnson"}' | \
	    pyq 'v["result"]["patients"][0]["id"]') || return 1
	slot=$(mcall deskcli appt.slots "{\"doctor_id\": $doc, \"date\": \"$(date -u -d "@$target" +%F)\"}" | \
	    pyq 'v["result"]["slots"][0]["starts_at"]') || return 1
	mcall deskcli appt.book "{\"doctor_id\": $doc, \"patient_id\": $pat, \"starts_at\": $slot}" \
	    >"$TMP/nocap.out"
	grep -q "daily cap 1" "$TMP/nocap.out" || { cat "$TMP/nocap.out"; return 1; }
	mcall deskcli appt.book "{\"doctor_id\": $doc, \"patient_id\": $pat, \"starts_at\": $slot, \"overbook\": true}" \
	    >"$TMP/ob.out" || { cat "$TMP/ob.out"; return 1; }
	wait_for desk "+Emily Johnson" || return 1
	wait_for admin "+Emily Johnson" 2000
}

# n on the chat tab offers whom one may write to (chat.contacts), filtered
# by name on the server as one types: a doctor finds his own patient and
# the desk, and writes to the desk, whose tab counts it; a patient finds his
# doctor but neither the desk nor another patient.
test_chat_with_offers_whom_one_may_write_to() {
	open_client chatdoc
	login chatdoc doctor@test.com "$PASSWORD" || return 1
	wait_for chatdoc "Dr. Sarah Chen (doctor)" || return 1
	keys chatdoc 3
	wait_for chatdoc "Conversations" || return 1
	keys chatdoc n
	wait_for chatdoc "Chat with" || return 1
	wait_for chatdoc "you may write to" || return 1
	type_text chatdoc smith
	wait_line chatdoc "> John Smith" "patient" || return 1
	keys chatdoc Escape
	wait_gone chatdoc "Chat with" || return 1
	keys chatdoc n
	wait_for chatdoc "Chat with" || return 1
	type_text chatdoc lopez
	wait_line chatdoc "> Maria Lopez" "receptionist" || return 1
	keys chatdoc Enter
	wait_for chatdoc "Maria Lopez (receptionist)" || return 1
	type_text chatdoc "Room 2 is free after three."
	keys chatdoc Enter
	wait_line chatdoc "you" ":" || return 1
	wait_for desk "Chat (1)" 2000 || return 1
	open_client chatpat
	login chatpat patient@test.com "$PASSWORD" || return 1
	wait_for chatpat "John Smith (patient)" || return 1
	keys chatpat 3
	wait_for chatpat "Conversations" || return 1
	keys chatpat n
	wait_for chatpat "Chat with" || return 1
	wait_line chatpat "Dr. Sarah Chen" "doctor" || return 1
	# The open picker's online marks follow presence: Dr. Okafor, one of
	# John's doctors and at no other terminal, comes and goes.
	wait_line chatpat "Dr. Michael Okafor" "doctor" || return 1
	wait_line_without chatpat "Dr. Michael Okafor" "online" || return 1
	open_client chatoka
	login chatoka m.okafor@test.com "$PASSWORD" || return 1
	wait_for chatoka "Dr. Michael Okafor (doctor)" || return 1
	wait_line chatpat "Dr. Michael Okafor" "online" || return 1
	keys chatoka C-c
	wait_for chatoka "mediflow exited 0" || return 1
	wait_line_without chatpat "Dr. Michael Okafor" "online" || return 1
	type_text chatpat lopez
	wait_for chatpat "nobody you may write to by that name" || return 1
	keys chatpat Escape
	wait_gone chatpat "Chat with" || return 1
	keys chatpat n
	wait_for chatpat "Chat with" || return 1
	type_text chatpat emily
	wait_for chatpat "nobody you may write to by that name" || return 1
	keys chatpat Escape
	wait_gone chatpat "Chat with" || return 1
	keys chatdoc C-c
	keys chatpat C-c
	wait_for chatdoc "mediflow exited 0" || return 1
	wait_for chatpat "mediflow exited 0"
}

# Booking a patient on the wait list with that doctor, in the entry's
# window, closes the entry on the server: the W list on show drops them by
# itself.
test_wait_list_drops_a_patient_once_booked() {
	keys desk W
	wait_for desk "Wait list of Dr. Sarah Chen" || return 1
	keys desk a
	wait_for desk "Add to the wait list of Dr. Sarah Chen" || return 1
	type_text desk aisha
	wait_for desk "> Aisha Khan" || return 1
	keys desk Enter
	wait_for desk "From (YYYY-MM-DD)" || return 1
	keys desk Enter Enter
	type_text desk "Any afternoon"
	keys desk Enter
	wait_line desk "Aisha Khan" "Any afternoon" || return 1
	mlogin deskcli2 receptionist@test.com || return 1
	chen=$(mcall deskcli2 doctors.list '{"limit": 200}' | pyq \
	    '[d["id"] for d in v["result"]["doctors"] if "Chen" in d["full_name"]][0]') || return 1
	pat=$(mcall deskcli2 patients.search '{"q": "aisha khan"}' | \
	    pyq 'v["result"]["patients"][0]["id"]') || return 1
	slot=$(mcall deskcli2 appt.slots "{\"doctor_id\": $chen, \"date\": \"$(date -u -d "@$target" +%F)\"}" | \
	    pyq 'v["result"]["slots"][-1]["starts_at"]') || return 1
	mcall deskcli2 appt.book "{\"doctor_id\": $chen, \"patient_id\": $pat, \"starts_at\": $slot}" \
	    >"$TMP/wl-book.out" || { cat "$TMP/wl-book.out"; return 1; }
	wait_gone desk "Any afternoon" || return 1
	wait_for desk "Wait list of Dr. Sarah Chen" || return 1
	keys desk Escape
	wait_gone desk "Wait list of Dr. Sarah Chen"
}

pick_target
if ! start_server 127.0.0.1:0 || ! set_clock; then
	echo "[  FAILED  ] 1 test(s), listed below:"
	exit 1
fi
echo "[==========] Running the terminal client against mediflowd on port $port"
run test_receptionist_logs_in_and_sees_the_board
run test_second_board_is_open
run test_book_a_patient_in_six_keys
run test_other_board_shows_it_within_a_second
run test_reminder_from_the_board_shows_why_not
run test_check_in_in_one_key
run test_offered_slot_shows_as_held_on_the_other_board
run test_day_sheet_is_written_to_a_file
run test_command_line_books_and_undoes
run test_command_line_asks_only_when_ambiguous
run test_desk_edits_a_doctors_weekly_hours
run test_help_shows_the_keys_of_the_screen
run test_first_key_is_asked_about_then_pinned
run test_first_key_refused_stays_on_the_login_screen
run test_changed_key_shows_the_warning_and_does_not_log_in
run test_patient_requests_and_doctor_approves
run test_doctor_writes_a_record_and_a_prescription_in_the_chart
run test_patient_reads_own_records_and_prescriptions
run test_chat_between_patient_and_doctor_is_live
run test_chart_and_chat_fit_80x24
run test_chat_with_offers_whom_one_may_write_to
run test_admin_creates_a_user_who_logs_in
run test_admin_filters_the_audit_log_and_sees_the_outbox
run test_form_shows_server_errors_in_place
run test_resize_keeps_the_screen_whole
run test_screen_locks_and_password_unlocks
run test_walk_in_is_checked_in_on_the_board
run test_wait_list_adds_and_shows_the_offer
run test_recall_list_marks_one_done
run test_wait_list_drops_a_patient_once_booked
run test_server_restart_is_survived
run test_overbook_is_marked_on_every_board
run test_quit_exits_cleanly
run test_reconnect_rechecks_the_pin
run test_every_client_exits_cleanly
echo "[==========] $((passed + failed)) test(s) run."
echo "[  PASSED  ] $passed test(s)."
if [ "$failed" -gt 0 ]; then
	echo "[  FAILED  ] $failed test(s), listed below:"
	for n in $failed_names; do
		echo "[  FAILED  ] $n"
	done
	echo "server log:"
	tail -n 20 "$TMP/server.log" | sed 's/^/| /'
	exit 1
fi
exit 0
