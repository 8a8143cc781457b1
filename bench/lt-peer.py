#!/usr/bin/python3
"""One libtorrent peer for bench/transfer, driven over stdout as JSON lines.

            # One peer or several, comma-separated (bench/swarm's N seeds -> 1 leecher).
            for peer in args[3].split(','):
                host, port = peer.rsplit(':', 1)
                handle.connect_peer((host.strip('[]'), int(port)))
  seed:  {"event": "ready", "port": N}        data checked, seeding, listening on [::1]:N
  leech: {"event": "dial"}                    connect_peer() called (after the empty-data check)
         {"event": "connected"}               first peer_connect_alert (the TCP connection is up)
         {"event": "finished", "rc4": B}      torrent_finished_alert: every piece verified (B, with
                                              --rc4: the connection was RC4-encrypted; with --utp
                                              also "utp": the session's uTP packet counters); then exit 0
  magnet: dial, connected as a leech;  {"event": "metadata"}  metadata_received_alert; then exit 0
  both:  {"event": "error", "message": ...}   then exit 1
--utp: uTP only (TCP off both ways) instead of TCP only (bench/utp).
--listen HOST: listen on HOST (an IPv6 or IPv4 address) instead of ::1 (bench/utp --path wan,
inside a network namespace).
Run it with /usr/bin/python3: a pyenv python3 earlier in PATH lacks Debian's libtorrent module.
"""
import json
import os
import sys
import time

import libtorrent as lt


def emit(event, **fields):
    print(json.dumps({'event': event, 't': time.time(), **fields}), flush=True)


def fail(message):
    emit('error', message=message)
    sys.exit(1)


def main():
    args = sys.argv[1:]
    flags = set()
    listen = '::1'
    while args[:1] in (['--rc4'], ['--utp'], ['--listen']):
        if args[0] == '--listen' and len(args) > 1:
            listen = args[1]
            del args[:2]
        else:
            flags.add(args.pop(0))
    rc4 = '--rc4' in flags
    utp = '--utp' in flags
    if len(args) not in (3, 4) or args[0] not in ('seed', 'leech', 'magnet') or (args[0] != 'seed') != (len(args) == 4):
        fail('usage: lt-peer.py [--rc4] [--utp] [--listen HOST] seed TORRENT SAVE | lt-peer.py [...] leech TORRENT SAVE [HOST]:PORT | lt-peer.py [...] magnet MAGNET SAVE [HOST]:PORT')
    mode, torrent, save = args[:3]
    encryption = {
        'out_enc_policy': int(lt.enc_policy.forced), 'in_enc_policy': int(lt.enc_policy.forced),
        'allowed_enc_level': int(lt.enc_level.rc4), 'prefer_rc4': True,
    } if rc4 else {}
    ses = lt.session({
        'listen_interfaces': f'[{listen}]:0' if ':' in listen else f'{listen}:0',
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        # TCP only, like sixswarm and aria2c; or (--utp) uTP only
        'enable_incoming_utp': utp, 'enable_outgoing_utp': utp,
        'enable_incoming_tcp': not utp, 'enable_outgoing_tcp': not utp,
        # both peers are ::1; the default (False) refuses the second connection from one address
        'allow_multiple_connections_per_ip': True,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
        | lt.alert.category_t.connect_notification | lt.alert.category_t.peer_notification,
        **encryption,
    })
    if mode == 'magnet':
        params = lt.parse_magnet_uri(torrent)
    else:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrent)
    params.save_path = save
    if mode == 'seed' and os.environ.get('LT_SEED_MODE') == '1':
        params.flags |= lt.torrent_flags.seed_mode
    handle = ses.add_torrent(params)
    ready = dialed = connected = rc4_seen = finished_utp = False
    while True:
        ses.wait_for_alert(50)
        for a in ses.pop_alerts():
            kind = type(a).__name__
            if kind in ('listen_failed_alert', 'file_error_alert', 'torrent_error_alert', 'fastresume_rejected_alert'):
                fail(a.message())
            if kind == 'peer_connect_alert' and not connected:
                connected = True
                emit('connected')
            if kind == 'metadata_received_alert' and mode == 'magnet':
                emit('metadata')
                sys.exit(0)
            if kind == 'torrent_finished_alert' and mode == 'leech' and dialed:
                if utp:
                    finished_utp = time.time()
                    ses.post_session_stats()
                else:
                    emit('finished', rc4=rc4_seen)
                    sys.exit(0)
            if kind == 'session_stats_alert' and finished_utp:
                counters = {k.split('.', 1)[1]: v for k, v in a.values.items() if k.startswith('utp.utp_')}
                emit('finished', rc4=rc4_seen, utp=counters, t=finished_utp)
                sys.exit(0)
        # Looked at while connected (a seed and a finished leecher may part before the alert is
        # read), and only until seen: the plaintext pair does not pay for it.
        if rc4 and not rc4_seen:
            rc4_seen = any(p.flags & p.rc4_encrypted for p in handle.get_peer_info())
        state = handle.status().state
        checking = state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data)
        if mode == 'seed' and not ready and handle.status().is_seeding:
            ready = True
            emit('ready', port=ses.listen_port())
        if mode != 'seed' and not dialed and not checking:
            # One peer or several, comma-separated (bench/swarm: N seeds -> 1 leecher).
            for peer in args[3].split(","):
                host, port = peer.rsplit(":", 1)
                handle.connect_peer((host.strip("[]"), int(port)))
            dialed = True
            emit('dial')


if __name__ == '__main__':
    main()
