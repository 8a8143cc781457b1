#!/usr/bin/python3
"""One libtorrent peer for bench/transfer, driven over stdout as JSON lines.

    lt-peer.py seed   TORRENT SAVE_PATH
    lt-peer.py leech  TORRENT SAVE_PATH [::1]:SEED_PORT[,[::1]:PORT...]
    lt-peer.py magnet MAGNET  SAVE_PATH [::1]:SEED_PORT

Listens on [::1] only (an ephemeral port), with DHT, LSD, UPnP, NAT-PMP and uTP off; every other
setting is libtorrent's default. LT_SEED_MODE=1 makes a seed trust its data without checking it
(libtorrent's seed_mode), as a sixswarm seed with resume state does. Events (`t` is the Unix time in seconds):
  seed:  {"event": "ready", "port": N}        data checked, seeding, listening on [::1]:N
  leech: {"event": "dial"}                    connect_peer() called (after the empty-data check)
         {"event": "connected"}               first peer_connect_alert (the TCP connection is up)
         {"event": "finished"}                torrent_finished_alert: every piece verified; then exit 0
  magnet: dial, connected as a leech;  {"event": "metadata"}  metadata_received_alert; then exit 0
  both:  {"event": "error", "message": ...}   then exit 1
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
    if len(sys.argv) not in (4, 5) or sys.argv[1] not in ('seed', 'leech', 'magnet') or (sys.argv[1] != 'seed') != (len(sys.argv) == 5):
        fail('usage: lt-peer.py seed TORRENT SAVE | lt-peer.py leech TORRENT SAVE [::1]:PORT | lt-peer.py magnet MAGNET SAVE [::1]:PORT')
    mode, torrent, save = sys.argv[1:4]
    ses = lt.session({
        'listen_interfaces': '[::1]:0',
        'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
        # TCP only, like sixswarm and aria2c
        'enable_incoming_utp': False, 'enable_outgoing_utp': False,
        # both peers are ::1; the default (False) refuses the second connection from one address
        'allow_multiple_connections_per_ip': True,
        'alert_mask': lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
        | lt.alert.category_t.connect_notification | lt.alert.category_t.peer_notification,
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
    ready = dialed = connected = False
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
                emit('finished')
                sys.exit(0)
        state = handle.status().state
        checking = state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data)
        if mode == 'seed' and not ready and handle.status().is_seeding:
            ready = True
            emit('ready', port=ses.listen_port())
        if mode != 'seed' and not dialed and not checking:
            for peer in sys.argv[4].split(','):
                host, port = peer.rsplit(':', 1)
                handle.connect_peer((host.strip('[]'), int(port)))
            dialed = True
            emit('dial')


if __name__ == '__main__':
    main()
