#!/usr/bin/python3
"""
Test support: a tunnel client written the way the original one works (lab11's C client of the
stateful IPv6-over-IPv4 tunnel, ../../../shared/notes/tunnel-protocol.md), independent of
sixswarm's code: it sends {"Id": "<mac of the uplink>"} and nothing else, takes the {"Prefix"}
reply, puts prefix::1/64 and a default route on a TUN device (IFF_TUN | IFF_NO_PI), and then
moves raw IPv6 packets back to back between the device and the TCP connection, reconnecting
every 2 s. Unlike the original it cuts packets by their IPv6 header rather than by read(), so
the test measures the server, not the original's framing bug.

Usage: original-tunnel-client.py HOST PORT IFNAME
Prints one JSON line per event: up (with the prefix), down.
"""
import fcntl, ipaddress, json, os, select, socket, struct, subprocess, sys, time

HOST, PORT, IFNAME = sys.argv[1], int(sys.argv[2]), sys.argv[3]
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000


def out(**e):
    print(json.dumps(e), flush=True)


def uplink_mac():
    dev = json.loads(subprocess.check_output(['ip', '-j', '-4', 'route', 'show', 'default']))[0]['dev']
    with open('/sys/class/net/%s/address' % dev) as f:
        return f.read().strip()


def ip(*args):
    subprocess.run(['ip', *args], check=False, capture_output=True)


tun = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(tun, TUNSETIFF, struct.pack('16sH', IFNAME.encode(), IFF_TUN | IFF_NO_PI))
ip('link', 'set', 'dev', IFNAME, 'mtu', '1280', 'up')
mac = uplink_mac()
configured = None

while True:
    try:
        s = socket.create_connection((HOST, PORT), timeout=5)
        s.settimeout(None)
        s.sendall(json.dumps({'Id': mac}).encode())
        got = b''
        while b'}' not in got:
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError('closed during the handshake')
            got += chunk
        end = got.index(b'}') + 1
        prefix = json.loads(got[:end])['Prefix']
        rest = got[end:]
        if prefix != configured:
            addr = str(ipaddress.IPv6Network(prefix)[1])  # prefix::1, as the original takes
            ip('-6', 'addr', 'add', addr + '/64', 'dev', IFNAME, 'nodad')
            ip('-6', 'route', 'add', 'default', 'dev', IFNAME, 'metric', '1024')
            configured = prefix
        out(event='up', prefix=prefix, id=mac)
        buf = rest
        while True:
            ready, _, _ = select.select([tun, s], [], [])
            if tun in ready:
                s.sendall(os.read(tun, 65535))
            if s in ready:
                chunk = s.recv(262144)
                if not chunk:
                    raise ConnectionError('the server closed the connection')
                buf += chunk
                while len(buf) >= 40:
                    if buf[0] >> 4 != 6:
                        raise ConnectionError('corrupt stream')
                    total = 40 + struct.unpack('!H', buf[4:6])[0]
                    if len(buf) < total:
                        break
                    os.write(tun, buf[:total])
                    buf = buf[total:]
    except (OSError, ConnectionError, ValueError, KeyError) as e:
        out(event='down', reason=str(e))
        time.sleep(2)
