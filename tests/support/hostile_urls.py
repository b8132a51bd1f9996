"""URLs that must never be fetched: the issue's encodings and their relatives."""

# (URL, words the refusal must contain). The encodings, and their relatives.
HOSTILE = [
    ("http://127.0.0.1:6379/", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://localhost/", "loopback"),
    ("http://localhost.:8080/", "loopback"),
    ("http://api.localhost/", "loopback"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:7f00:1]/", "loopback"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f.1/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://127.0.0.1./", "loopback"),
    ("http://２１３０７０６４３３/", "loopback"),  # fullwidth digits: IDNA makes them ASCII
    ("http://0xa9fea9fe/", "link-local"),  # 169.254.169.254
    ("http://10.0.0.5/", "private"),
    ("http://172.16.3.4/", "private"),
    ("http://192.168.1.1:8443/admin", "private"),
    ("https://[fd12:3456::1]/", "private"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://224.0.0.251/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://192.0.2.10/", "reserved"),
    ("http://[64:ff9b::7f00:1]/", "loopback"),  # NAT64 of 127.0.0.1
    ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 of 127.0.0.1
    ("http://[::127.0.0.1]/", "reserved"),  # IPv4-compatible, deprecated
    ("http://user:pw@127.0.0.1/", "loopback"),
    ("http://08.0.0.1/", "not a valid IPv4"),
    ("http://0x08080808/", "standard form"),  # a public address, written to dodge filters
    ("ftp://example.com/cal.ics", "http and https"),
    ("file:///etc/passwd", "http and https"),
    ("gopher://127.0.0.1:6379/_INFO", "http and https"),
    ("javascript:alert(1)", "http and https"),
    ("http:///no-host", "no host"),
    ("http://example.com:0/", "port"),
    ("http://example.com:99999/", "port"),
    ("http://exa mple.com/", "spaces"),
    ("http://127.0.0.1\\@example.com/", "backslashes"),
]
