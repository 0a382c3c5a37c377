#!/usr/bin/env python3
"""Generates tests/pii/corpus.txt, the labelled corpus of the PII scanner.

    python3 tests/pii/gen_corpus.py > tests/pii/corpus.txt

Deterministic (fixed seed, Python 3 standard library only): running it again
gives the same file byte for byte, so the committed corpus is its output.

Each line is a realistic log line: web server access logs, logfmt and JSON
application logs, PostgreSQL and pgaudit logs, syslog, HTTP header dumps,
configuration and key=value lines. Every true finding is marked inline as
U+27E6 type | value U+27E7 (e.g. "[[email|alice@example.com]]" with the
mathematical white square brackets), where type is a name of pii_type_name().
The test strips the markers to get the raw line, and the markers' positions
in the raw line are the expected (type, offset, length) spans. The brackets
occur nowhere else in the corpus.

The lines mix every type with near misses that a scanner must leave alone:
timestamps, durations, clock times, version strings, UUIDs, hex hashes,
order and invoice numbers, Luhn-invalid card-like numbers, IBANs with wrong
check digits, long digit runs of other lengths, MAC addresses, SQL casts,
prose about tokens and passwords. The data is fake but valid in form:
Luhn-valid card numbers (test numbers and generated ones), IBANs whose
check digits are computed here, example.com/.org/.net addresses, the
documentation networks 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
2001:db8::/32, 555 and drama-range phone numbers, SSN-format numbers.

Labelling conventions (what warden's scanner reports, see core/pii.h): an
IPv4 address with a port is labelled without the port; the bearer label is
the token after "Bearer "; a secret label is the value without its quotes;
a secret value is one secret even when it is an email, a JWT or a warden
key (api_key=wdn_... is a secret).
"""

import base64
import json
import random

SEED = 20261125
LINES = 1200

OPEN, CLOSE = "\u27e6", "\u27e7"
R = random.Random(SEED)


def mark(kind, value):
    assert OPEN not in value and CLOSE not in value
    return f"{OPEN}{kind}|{value}{CLOSE}"


def pick(seq):
    return R.choice(seq)


# --- true values --------------------------------------------------------------

FIRST = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
         "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert",
         "sybil", "trent", "victor", "walter", "wendy", "zoë", "josé",
         "łukasz", "søren", "amélie"]
LAST = ["smith", "jones", "garcia", "miller", "davis", "martin", "nguyen",
        "kowalski", "müller", "dubois", "rossi", "tanaka", "silva", "okafor"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.com",
           "corp.example.org", "eu.example.net"]


def email():
    f, l = pick(FIRST), pick(LAST)
    form = R.randrange(7)
    if form == 0:
        local = f"{f}.{l}"
    elif form == 1:
        local = f"{f}_{l}{R.randrange(100)}"
    elif form == 2:
        local = f"{f}+{pick(['news', 'billing', 'test', 'shop'])}"
    elif form == 3:
        local = f"{f[0]}{l}"
    elif form == 4:
        local = f"{f.capitalize()}.{l.capitalize()}"
    elif form == 5:
        local = f"{f}{R.randrange(1970, 2010)}"
    else:
        local = f
    return f"{local}@{pick(DOMAINS)}"


def phone():
    form = R.randrange(12)
    n2 = R.randrange(100)
    area = pick(["212", "415", "312", "617", "206", "303", "512", "646"])
    if form == 0:
        return f"+1 ({area}) 555-01{n2:02d}"
    if form == 1:
        return f"+1-{area}-555-01{n2:02d}"
    if form == 2:
        return f"+1{area}55501{n2:02d}"
    if form == 3:
        return f"({area}) 555-01{n2:02d}"
    if form == 4:
        return f"{area}-555-01{n2:02d}"
    if form == 5:
        return f"{area}.555.01{n2:02d}"
    if form == 6:
        return f"1-800-555-01{n2:02d}"
    if form == 7:
        return f"+44 20 7946 0{R.randrange(1000):03d}"
    if form == 8:
        return f"020 7946 0{R.randrange(1000):03d}"
    if form == 9:
        return f"07700 900{R.randrange(1000):03d}"
    if form == 10:
        return f"+33 1 99 00 {R.randrange(100):02d} {R.randrange(100):02d}"
    return f"+61 2 5550 {R.randrange(10000):04d}"


def luhn_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number):
    return luhn_digit(number[:-1]) == number[-1]


TEST_CARDS = ["4242424242424242", "4111111111111111", "5555555555554444",
              "5105105105105100", "378282246310005", "371449635398431",
              "6011111111111117", "6011000990139424", "3566002020360505",
              "4000056655665556", "2223003122003222", "5200828282828210",
              "6200000000000005", "3056930009020004"]


def card_digits():
    if R.randrange(3) == 0:
        return pick(TEST_CARDS)
    prefix, length = pick([("4", 16), ("51", 16), ("55", 16), ("2221", 16),
                           ("34", 15), ("37", 15), ("6011", 16), ("35", 16),
                           ("4", 19), ("4", 13)])
    body = prefix + "".join(str(R.randrange(10))
                            for _ in range(length - len(prefix) - 1))
    return body + luhn_digit(body)


def card_layout(d, sep):
    if len(d) == 15:
        return sep.join([d[:4], d[4:10], d[10:]])
    if len(d) == 16:
        return sep.join([d[0:4], d[4:8], d[8:12], d[12:16]])
    if len(d) == 19:
        return sep.join([d[0:4], d[4:8], d[8:12], d[12:16], d[16:]])
    return d


def card():
    d = card_digits()
    form = R.randrange(3)
    if form == 0 or len(d) == 13:
        return d
    return card_layout(d, " " if form == 1 else "-")


def bad_card():
    """A card-shaped number that fails Luhn. A 19-digit one must fail for
    its first 16 digits too: "4242 4242 4242 4242 123" is a card followed
    by three digits, so it would be no near miss."""
    while True:
        d = card_digits()
        last = str((int(d[-1]) + 1 + R.randrange(9)) % 10)
        d = d[:-1] + last
        if len(d) != 19 or not luhn_ok(d[:16]):
            break
    assert not luhn_ok(d)
    form = R.randrange(3)
    if form == 0 or len(d) == 13:
        return d
    return card_layout(d, " " if form == 1 else "-")


IBAN_SPECS = {  # country: BBAN pattern, n digit, a upper letter, c alnum
    "DE": "n18", "GB": "a4n14", "FR": "n10c11n2", "NL": "a4n10",
    "ES": "n20", "IT": "a1n10c12", "BE": "n12", "CH": "n5c12", "AT": "n16",
    "PL": "n24", "IE": "a4n14", "NO": "n11", "SE": "n20", "DK": "n14",
    "FI": "n14", "PT": "n21", "LU": "n3c13",
}


def bban(pattern):
    out = []
    i = 0
    while i < len(pattern):
        kind = pattern[i]
        j = i + 1
        while j < len(pattern) and pattern[j].isdigit():
            j += 1
        count = int(pattern[i + 1:j])
        for _ in range(count):
            if kind == "n":
                out.append(str(R.randrange(10)))
            elif kind == "a":
                out.append(chr(ord("A") + R.randrange(26)))
            else:
                out.append(pick("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"))
        i = j
    return "".join(out)


def mod97(s):
    digits = "".join(str(int(ch, 36)) for ch in s)
    return int(digits) % 97


def iban_raw(good=True):
    cc = pick(sorted(IBAN_SPECS))
    b = bban(IBAN_SPECS[cc])
    check = 98 - mod97(b + cc + "00")
    if not good:
        check = (check + 1 + R.randrange(90)) % 97 + 2
        if mod97(b + cc + f"{check:02d}") == 1:
            check = check + 1 if check < 98 else 2
    code = f"{cc}{check:02d}{b}"
    assert (mod97(code[4:] + code[:4]) == 1) == good
    return code


def iban_format(code):
    if R.randrange(2):
        return code
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4))


def iban(good=True):
    return iban_format(iban_raw(good))


def ipv4():
    form = R.randrange(7)
    if form == 0:
        return f"192.0.2.{R.randrange(1, 255)}"
    if form == 1:
        return f"198.51.100.{R.randrange(1, 255)}"
    if form == 2:
        return f"203.0.113.{R.randrange(1, 255)}"
    if form == 3:
        return f"10.{R.randrange(256)}.{R.randrange(256)}.{R.randrange(1, 255)}"
    if form == 4:
        return f"172.16.{R.randrange(256)}.{R.randrange(1, 255)}"
    if form == 5:
        return "127.0.0.1"
    return f"192.0.2.{R.randrange(1, 255)}"


def ipv6():
    h = lambda: f"{R.randrange(1, 65536):x}"
    form = R.randrange(7)
    if form == 0:
        return f"2001:db8::{h()}"
    if form == 1:
        return f"2001:db8:{h()}:{h()}::{h()}"
    if form == 2:
        return "2001:0db8:" + ":".join(f"{R.randrange(65536):04x}" for _ in range(6))
    if form == 3:
        return f"fe80::{h()}:{h()}:{h()}:{h()}"
    if form == 4:
        return f"::ffff:192.0.2.{R.randrange(1, 255)}"
    if form == 5:
        return f"2001:DB8:{h().upper()}::{h().upper()}"
    return f"2001:db8:{h()}:{h()}:{h()}:{h()}:{h()}:{h()}"


def ssn():
    area = R.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{R.randrange(1, 100):02d}-{R.randrange(1, 10000):04d}"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def rand_b64(n):
    alphabet = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-_")
    return "".join(pick(alphabet) for _ in range(n))


def jwt():
    alg = pick(["RS256", "HS256", "ES256"])
    header = {"alg": alg, "typ": "JWT"}
    if R.randrange(2):
        header["kid"] = f"k{R.randrange(100)}"
    claims = {"sub": f"user-{R.randrange(10000)}",
              "iat": 1764000000 + R.randrange(100000),
              "exp": 1764100000 + R.randrange(100000)}
    if R.randrange(2):
        claims["email"] = f"{pick(FIRST[:20])}@example.com"
    if R.randrange(2):
        claims["roles"] = ["reader"]
    sig_len = {"RS256": 342, "HS256": 43, "ES256": 86}[alg]
    return ".".join([b64url(json.dumps(header, separators=(",", ":")).encode()),
                     b64url(json.dumps(claims, separators=(",", ":")).encode()),
                     rand_b64(sig_len)])


def opaque_token():
    form = R.randrange(3)
    if form == 0:
        return "".join(pick("0123456789abcdef") for _ in range(40))
    if form == 1:
        return rand_b64(32)
    return "ya29." + rand_b64(60)


def api_key():
    lower = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "wdn_" + "".join(pick(lower) for _ in range(12)) + "_" + rand_b64(43)


def refresh_token():
    return "wrt_" + rand_b64(43)


def password():
    form = R.randrange(5)
    words = ["hunter2", "correct-horse", "Tr0ub4dor", "s3cr3t", "P@ssw0rd",
             "letmein", "Sommer2026", "q1w2e3r4", "dragon", "xK9#mQ2$"]
    if form == 0:
        return pick(words)
    if form == 1:
        return pick(words) + str(R.randrange(1000))
    if form == 2:
        return rand_b64(R.randrange(12, 24))
    if form == 3:
        # not starting with '=': "password==x" reads as a comparison
        return pick("abcdefghjkmnpqrstuvwxyz") + "".join(
            pick("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!#$%*+-./=?@^_~")
            for _ in range(R.randrange(9, 19)))
    return "".join(pick("0123456789abcdef") for _ in range(32))


# --- near misses (never labelled) ---------------------------------------------

def hexs(n):
    return "".join(pick("0123456789abcdef") for _ in range(n))


def uuid():
    h = hexs(32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def ts_iso():
    return (f"2026-11-{R.randrange(1, 31):02d}T{R.randrange(24):02d}:"
            f"{R.randrange(60):02d}:{R.randrange(60):02d}."
            f"{R.randrange(1000):03d}Z")


def ts_pg():
    return (f"2026-11-{R.randrange(1, 31):02d} {R.randrange(24):02d}:"
            f"{R.randrange(60):02d}:{R.randrange(60):02d}."
            f"{R.randrange(1000):03d} UTC")


def ts_clf():
    return (f"{R.randrange(1, 31):02d}/Nov/2026:{R.randrange(24):02d}:"
            f"{R.randrange(60):02d}:{R.randrange(60):02d} +0000")


def ts_syslog():
    return (f"Nov {R.randrange(1, 31):2d} {R.randrange(24):02d}:"
            f"{R.randrange(60):02d}:{R.randrange(60):02d}")


def version():
    form = R.randrange(7)
    if form == 0:
        return f"v{R.randrange(4)}.{R.randrange(30)}.{R.randrange(20)}"
    if form == 1:
        return f"{R.randrange(1, 4)}.{R.randrange(10)}.{R.randrange(10)}.{R.randrange(10)}.{R.randrange(100)}"
    if form == 2:
        return f"PostgreSQL 15.{R.randrange(12)}"
    if form == 3:
        return f"nginx/1.{R.randrange(20, 27)}.{R.randrange(5)}"
    if form == 4:
        return f"go1.{R.randrange(18, 24)}.{R.randrange(10)}"
    if form == 5:
        return f"v1.{R.randrange(10)}.{R.randrange(10)}.{R.randrange(10)}"
    return f"OpenSSL 3.0.{R.randrange(16)}"


def order_no():
    form = R.randrange(6)
    if form == 0:
        return f"ORD-2026-{R.randrange(1000000):06d}"
    if form == 1:
        return f"#{R.randrange(10 ** 9, 10 ** 10)}"
    if form == 2:
        return f"INV-20261125-{R.randrange(10000):04d}"
    if form == 3:
        return f"1Z999AA1{R.randrange(10 ** 9, 10 ** 10)}"
    if form == 4:
        return str(R.randrange(10 ** 11, 10 ** 12))
    return f"PO{R.randrange(10 ** 7, 10 ** 8)}"


def long_digits():
    """Digit runs of lengths no card has, or of card lengths but prefixes
    no card uses (epoch milliseconds, snowflake ids)."""
    form = R.randrange(4)
    if form == 0:
        return str(R.randrange(10 ** 19, 10 ** 23))
    if form == 1:
        return str(1764000000000 + R.randrange(10 ** 8))
    if form == 2:
        return str(R.randrange(10 ** 10, 10 ** 11))
    return "9" + "".join(str(R.randrange(10)) for _ in range(15))


def duration():
    return pick([f"{R.randrange(2000)}ms", f"{R.randrange(60)}s",
                 f"{R.randrange(3)}h{R.randrange(60)}m{R.randrange(60)}s",
                 f"00:00:{R.randrange(60):02d}.{R.randrange(1000):03d}",
                 f"{R.randrange(100)}.{R.randrange(1000):03d} ms"])


def mac():
    return ":".join(f"{R.randrange(256):02x}" for _ in range(6))


def clock():
    return f"{R.randrange(24):02d}:{R.randrange(60):02d}:{R.randrange(60):02d}"


def near_miss():
    form = R.randrange(22)
    if form == 0:
        return f"request_id={uuid()}"
    if form == 1:
        return f"sha256={hexs(64)}"
    if form == 2:
        return f"commit {hexs(40)}"
    if form == 3:
        return f"order {order_no()}"
    if form == 4:
        return f"ref {bad_card()}"
    if form == 5:
        return f"iban_check_failed={iban(False)}"
    if form == 6:
        return f"build {version()}"
    if form == 7:
        return f"took {duration()}"
    if form == 8:
        return f"id={long_digits()}"
    if form == 9:
        return f"mac={mac()}"
    if form == 10:
        return f"at {clock()}"
    if form == 11:
        return f"ts={ts_iso()}"
    if form == 12:
        return pick(["token expired", "invalid token: signature mismatch",
                     "password reset requested", "password_changed=true",
                     "token_type=\"Bearer\"", "missing Bearer token",
                     "max_tokens=1024", "tokens_used=512", "secret_name=db-creds",
                     "password=null", "api_key=\"\"", "password=********",
                     "Bearer authentication required",
                     "password_length=12", "has_password=true"])
    if form == 13:
        return pick(["user@localhost", "@channel", "pkg@1.2.3", "app@orders",
                     "noreply at example dot com", "foo@bar", "root@db01"])
    if form == 14:
        return pick(["256.1.2.3", "10.0.0.256", "1.2.3", "999.999.999.999",
                     f"v1.{R.randrange(10)}.{R.randrange(10)}.{R.randrange(10)}"])
    if form == 15:
        return pick(["123-45-678", "000-12-3456", "666-12-3456",
                     "900-12-3456", "12-345-6789", "2026-11-25"])
    if form == 16:
        return pick(["'2026-11-25'::date", "$1::int", "std::vector<int>",
                     "id::text", "Foo::Bar", "0::bigint"])
    if form == 17:
        return f"count={R.randrange(10 ** 6):,}".replace(",", ",")
    if form == 18:
        return pick(["eyJhbGciOiJIUzI1NiJ9", "eyJzdWIiOiIxIn0.x",
                     "dGVzdA==", "wdn_short_abc", "wrt_" + rand_b64(20)])
    if form == 19:
        return f"crc=0x{hexs(8)}"
    if form == 20:
        return f"ext {R.randrange(100, 10000)}"
    return f"epoch={1764000000 + R.randrange(100000)}"


# --- lines --------------------------------------------------------------------

PATHS = ["/api/v1/users", "/api/v1/orders", "/login", "/checkout",
         "/api/v1/payments", "/healthz", "/static/app.js", "/api/v1/search"]
UAS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/120.0.6099.109 Safari/537.36",
       "curl/8.4.0", "python-requests/2.31.0",
       "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 "
       "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
       "Go-http-client/1.1", "okhttp/4.12.0"]
LEVELS = ["info", "warn", "error", "debug"]
MSGS = ["request completed", "user signed in", "payment captured",
        "cache miss", "profile updated", "order created", "retrying upstream",
        "job finished", "webhook delivered", "session started"]


def nginx():
    ip = pick([mark("ipv4", ipv4()), mark("ipv4", ipv4()), mark("ipv6", ipv6())])
    path = pick(PATHS)
    q = ""
    form = R.randrange(8)
    if form == 0:
        q = f"?email={mark('email', email())}&page={R.randrange(9)}"
    elif form == 1:
        q = f"?access_token={mark('secret', opaque_token())}"
    elif form == 2:
        q = f"?id={R.randrange(100000)}&v={version()}"
    elif form == 3:
        q = f"/{uuid()}"
    return (f'{ip} - - [{ts_clf()}] "{pick(["GET", "POST", "PUT"])} {path}{q} '
            f'HTTP/1.1" {pick([200, 201, 204, 301, 400, 401, 404, 500])} '
            f'{R.randrange(100000)} "https://www.example.com/" "{pick(UAS)}" '
            f'rt={R.randrange(1000) / 1000:.3f}')


def logfmt():
    parts = [f"ts={ts_iso()}", f"level={pick(LEVELS)}", f'msg="{pick(MSGS)}"']
    for _ in range(R.randrange(1, 4)):
        form = R.randrange(15)
        if form == 0:
            parts.append(f"email={mark('email', email())}")
        elif form == 1:
            parts.append(f"client_ip={mark('ipv4', ipv4())}")
        elif form == 2:
            ph = phone()
            if " " in ph or "(" in ph:
                parts.append(f'phone="{mark("phone", ph)}"')
            else:
                parts.append(f"phone={mark('phone', ph)}")
        elif form == 3:
            pw = password()
            if any(c in pw for c in "\"',;&}])<>\\"):
                parts.append(f'password="{mark("secret", pw)}"')
            else:
                parts.append(f"password={mark('secret', pw)}")
        elif form == 4:
            # the key names a secret: the context wins over the content
            parts.append(f"api_key={mark('secret', api_key())}")
        elif form == 5:
            parts.append(f"user_id={R.randrange(100000)}")
        elif form == 6:
            parts.append(f"duration={duration().replace(' ', '')}")
        elif form == 7:
            parts.append(f"request_id={uuid()}")
        elif form == 8:
            parts.append(near_miss())
        elif form == 9:
            parts.append(f"remote={mark('ipv4', ipv4())}:{R.randrange(1024, 65536)}")
        elif form == 10:
            parts.append(f"client_secret={mark('secret', rand_b64(32))}")
        elif form == 11:
            parts.append(f"refresh={mark('api_key', refresh_token())}")
        elif form == 12:
            parts.append(f"peer={mark('ipv6', ipv6())}")
        elif form == 13:
            parts.append(f"version={version().replace(' ', '/')}")
        else:
            parts.append(f"order={order_no()}")
    return " ".join(parts)


def json_line():
    d = [("time", ts_iso()), ("level", pick(LEVELS).upper()),
         ("logger", pick(["payments", "auth", "orders", "profile", "gateway"])),
         ("msg", pick(MSGS))]
    for _ in range(R.randrange(1, 4)):
        form = R.randrange(16)
        if form == 0:
            d.append(("email", mark("email", email())))
        elif form == 1:
            d.append(("card", mark("card", card())))
        elif form == 2:
            d.append(("iban", mark("iban", iban())))
        elif form == 3:
            d.append(("ssn", mark("ssn", ssn())))
        elif form == 4:
            d.append(("phone", mark("phone", phone())))
        elif form == 5:
            d.append(("password", mark("secret", password().replace('"', "").replace("\\", ""))))
        elif form == 6:
            d.append(("access_token", mark("secret", jwt())))
        elif form == 7:
            d.append(("id_token_hint", mark("jwt", jwt())))
        elif form == 8:
            d.append(("ip", mark("ipv4", ipv4())))
        elif form == 9:
            d.append(("order_id", order_no()))
        elif form == 10:
            d.append(("request_id", uuid()))
        elif form == 11:
            d.append(("checksum", hexs(64)))
        elif form == 12:
            d.append(("note", near_miss().replace('"', "'")))
        elif form == 13:
            d.append(("token_type", "Bearer"))
        elif form == 14:
            d.append(("card_check", bad_card()))
        else:
            d.append(("contact", f"{pick(FIRST)} <{mark('email', email())}>"))
    body = ",".join(f'"{k}":"{v}"' for k, v in d)
    if R.randrange(4) == 0:
        body += f',"amount":{R.randrange(10000) / 100},"attempt":{R.randrange(5)}'
    return "{" + body + "}"


def postgres():
    head = f"{ts_pg()} [{R.randrange(1000, 99999)}] {pick(['app', 'postgres', 'report'])}@{pick(['orders', 'crm', 'postgres'])} "
    form = R.randrange(12)
    if form == 0:
        return head + (f"LOG:  connection authorized: user=app database=orders "
                       f"host={mark('ipv4', ipv4())} port={R.randrange(1024, 65536)}")
    if form == 1:
        return head + (f"DETAIL:  Key (email)=({mark('email', email())}) "
                       f"already exists.")
    if form == 2:
        return head + (f"LOG:  statement: UPDATE users SET phone = "
                       f"'{mark('phone', phone())}' WHERE id = {R.randrange(10000)}")
    if form == 3:
        return head + (f"LOG:  statement: ALTER ROLE {pick(FIRST[:10])} WITH "
                       f"PASSWORD '{mark('secret', password().replace(chr(39), ''))}'")
    if form == 4:
        return head + (f"LOG:  duration: {R.randrange(1000)}.{R.randrange(1000):03d} ms  "
                       f"statement: SELECT * FROM orders WHERE created_at > "
                       f"'2026-11-{R.randrange(1, 29):02d}'::date AND id = $1::int")
    if form == 5:
        return head + (f"LOG:  statement: INSERT INTO customers (ssn, iban) VALUES "
                       f"('{mark('ssn', ssn())}', '{mark('iban', iban())}')")
    if form == 6:
        return head + (f"ERROR:  invalid input syntax for type uuid: "
                       f"\"{hexs(30)}\" at character {R.randrange(200)}")
    if form == 7:
        return head + (f"LOG:  AUDIT: SESSION,{R.randrange(100)},1,ROLE,CREATE ROLE,,,"
                       f"CREATE ROLE svc LOGIN PASSWORD "
                       f"'{mark('secret', password().replace(chr(39), ''))}',<not logged>")
    if form == 8:
        return head + (f"LOG:  checkpoint complete: wrote {R.randrange(10000)} buffers "
                       f"({R.randrange(100)}.{R.randrange(10)}%); write={R.randrange(300)}.{R.randrange(1000):03d} s")
    if form == 9:
        return head + (f"LOG:  statement: UPDATE payments SET card_number = "
                       f"'{mark('card', card())}' WHERE order_id = '{order_no()}'")
    if form == 10:
        return head + (f"FATAL:  password authentication failed for user "
                       f"\"{pick(FIRST[:10])}\"")
    return head + (f"LOG:  connection received: host={mark('ipv6', ipv6())} "
                   f"port={R.randrange(1024, 65536)}")


def syslog():
    host = f"web{R.randrange(1, 20):02d}"
    form = R.randrange(8)
    if form == 0:
        return (f"{ts_syslog()} {host} sshd[{R.randrange(65536)}]: Accepted publickey "
                f"for deploy from {mark('ipv4', ipv4())} port {R.randrange(1024, 65536)} "
                f"ssh2: ED25519 SHA256:{rand_b64(43)}")
    if form == 1:
        return (f"{ts_syslog()} {host} sshd[{R.randrange(65536)}]: Failed password "
                f"for invalid user admin from {mark('ipv6', ipv6())} port "
                f"{R.randrange(1024, 65536)} ssh2")
    if form == 2:
        return (f"{ts_syslog()} {host} kernel: [{R.randrange(100000)}.{R.randrange(1000000):06d}] "
                f"eth0: link up, 1000 Mbps, full duplex, lpa 0x{hexs(4).upper()} mac {mac()}")
    if form == 3:
        return (f"{ts_syslog()} {host} postfix/smtp[{R.randrange(65536)}]: "
                f"{hexs(10).upper()}: to=<{mark('email', email())}>, relay=mx.example.net"
                f"[{mark('ipv4', ipv4())}]:25, delay={R.randrange(10)}.{R.randrange(100)}, "
                f"status=sent (250 2.0.0 OK)")
    if form == 4:
        return (f"{ts_syslog()} {host} CRON[{R.randrange(65536)}]: (root) CMD "
                f"(/usr/local/bin/backup --since {clock()})")
    if form == 5:
        return (f"{ts_syslog()} {host} app[{R.randrange(65536)}]: login ok user="
                f"{mark('email', email())} from {mark('ipv4', ipv4())} in {duration().replace(' ', '')}")
    if form == 6:
        return (f"{ts_syslog()} {host} systemd[1]: Started {pick(['nginx', 'postgresql', 'redis'])}.service "
                f"- {version()} ({R.randrange(100)} tasks, {R.randrange(1000)}M memory)")
    return (f"{ts_syslog()} {host} dhclient[{R.randrange(65536)}]: DHCPACK of "
            f"{mark('ipv4', ipv4())} from {mark('ipv4', ipv4())}")


def headers():
    form = R.randrange(8)
    if form == 0:
        return f"Authorization: Bearer {mark('bearer', jwt())}"
    if form == 1:
        return f"authorization: bearer {mark('bearer', opaque_token())}"
    if form == 2:
        return f"X-Api-Key: {mark('secret', api_key())}"
    if form == 3:
        return f"Cookie: session_id={mark('secret', rand_b64(24))}; theme=dark; lang=en"
    if form == 4:
        return f"X-Forwarded-For: {mark('ipv4', ipv4())}, {mark('ipv4', ipv4())}"
    if form == 5:
        return f"WWW-Authenticate: Bearer realm=\"api\", error=\"invalid_token\""
    if form == 6:
        return f"X-Request-Id: {uuid()}"
    return (f'> GET {pick(PATHS)} HTTP/1.1 | Host: api.example.com | '
            f'Authorization: Bearer {mark("bearer", api_key())} | '
            f'User-Agent: {pick(UAS)}')


def config_line():
    form = R.randrange(12)
    pw = password()
    plain = not any(c in pw for c in "\"',;&}])<> \\")
    if form == 0:
        return f"DATABASE_URL=postgresql://app:{mark('secret', pw.replace('@', '').replace('/', '').replace('?', '').replace('#', ''))}@db.example.com:5432/orders"
    if form == 1:
        return f"  password: {mark('secret', pw)}" if plain else f'  password: "{mark("secret", pw)}"'
    if form == 2:
        return f"PGPASSWORD={mark('secret', pw)}" if plain else f"PGPASSWORD='{mark('secret', pw.replace(chr(39), ''))}'"
    if form == 3:
        return f"api_key: {mark('secret', rand_b64(32))}"
    if form == 4:
        return f"host=db.example.com port=5432 user=app password={mark('secret', pw)} dbname=orders" if plain \
            else f"host=db.example.com port=5432 user=app password='{mark('secret', pw.replace(chr(39), ''))}' dbname=orders"
    if form == 5:
        return f"Server=db;Database=orders;User Id=app;Password={mark('secret', pw.replace(';', ''))};"
    if form == 6:
        return f"AWS_SECRET_ACCESS_KEY={mark('secret', rand_b64(40))}"
    if form == 7:
        return f'{{"client_id":"{uuid()}","client_secret":"{mark("secret", rand_b64(32))}"}}'
    if form == 8:
        return f"listen_addresses = '*'  # port = 5432, max_connections = {R.randrange(500)}"
    if form == 9:
        return f"PWD=/home/{pick(FIRST[:10])} SHELL=/bin/bash LANG=en_US.UTF-8"
    if form == 10:
        return f"stripeApiKey = \"{mark('secret', 'sk_test_' + rand_b64(24))}\""
    return f"log_line_prefix = '%m [%p] %u@%d ' # version {version()}"


def prose():
    form = R.randrange(10)
    if form == 0:
        return f"Kunde {pick(FIRST)} {pick(LAST).capitalize()} hat die IBAN {mark('iban', iban())} hinterlegt."
    if form == 1:
        return f"Contact {mark('email', email())} or call {mark('phone', phone())} before {clock()}."
    if form == 2:
        return f"Customer SSN {mark('ssn', ssn())} verified at {ts_iso()}; ticket {order_no()}."
    if form == 3:
        return f"Refund to card {mark('card', card())} approved (auth code {R.randrange(100000, 999999)})."
    if form == 4:
        return f"User pasted their key {mark('api_key', api_key())} into the chat."
    if form == 5:
        return f"Le client {pick(FIRST)} ({mark('email', email())}) a payé {R.randrange(1000)},{R.randrange(100):02d} €."
    if form == 6:
        return f"顧客 {mark('email', email())} の電話番号は {mark('phone', phone())} です。"
    if form == 7:
        return f"Debug token {mark('jwt', jwt())} expired at {ts_iso()}"
    if form == 8:
        return f"Card ending {R.randrange(1000, 10000)} declined; retry in {duration()}; ref {bad_card()}"
    return f"Migrated {R.randrange(10000)} rows from {version()} in {duration()}; checksum {hexs(40)}"


def near_line():
    """A line with near misses only."""
    return " ".join([f"ts={ts_iso()}", f"level={pick(LEVELS)}"] +
                    [near_miss() for _ in range(R.randrange(2, 5))])


def mixed():
    """Several findings close together, some adjacent."""
    form = R.randrange(5)
    if form == 0:
        return f"cc={mark('email', email())},{mark('email', email())};bcc={mark('email', email())}"
    if form == 1:
        return f"range {mark('ipv4', ipv4())}-{mark('ipv4', ipv4())} blocked after {R.randrange(100)} attempts"
    if form == 2:
        return f"[{mark('ipv6', ipv6())}]:{R.randrange(1024, 65536)} -> {mark('ipv4', ipv4())}:443"
    if form == 3:
        return (f"payout iban={mark('iban', iban())} card={mark('card', card())} "
                f"ssn={mark('ssn', ssn())} phone=\"{mark('phone', phone())}\"")
    return (f"tokens: access={mark('jwt', jwt())} refresh={mark('api_key', refresh_token())} "
            f"key={mark('api_key', api_key())}")


GENERATORS = [(nginx, 14), (logfmt, 16), (json_line, 16), (postgres, 14),
              (syslog, 10), (headers, 8), (config_line, 8), (prose, 8),
              (near_line, 10), (mixed, 6)]


def main():
    gens = [g for g, w in GENERATORS for _ in range(w)]
    out = []
    for _ in range(LINES):
        line = R.choice(gens)()
        assert "\n" not in line
        out.append(line)
    print("\n".join(out))


if __name__ == "__main__":
    main()
