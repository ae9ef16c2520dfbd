"""A realistic day of National Public Service Portal traffic, with attacks and personal data.

Deterministic for a seed: the same seed writes byte-identical logs, so a demo
re-run (or a test) ingests the same events and the store keeps them once.

What is in it:
- citizens (public Vietnamese ISP addresses) browsing, logging in through
  VNeID, looking up and submitting dossiers, paying fees, fetching static files,
  with an office-hours curve; commune officers (10.<province>.<n>.0/24 office
  networks) processing dossiers;
- personal data where real portals leak it: citizen ID and phone numbers in
  query strings, and application logs of submitted forms;
- attacks: SQL injection (sqlmap), path traversal, a vulnerability scanner,
  credential stuffing across many accounts, brute force on one officer
  account, dossier-ID enumeration, and a commune host probing the data centre.
"""

from __future__ import annotations

import ipaddress
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from vietnam_provinces import Province, Ward

from sentinel.localdb import write_private

VN_TZ = timezone(timedelta(hours=7))
# Consumer ranges of Vietnamese ISPs (VNPT, Viettel, FPT): where citizens come from.
CITIZEN_NETS = [
    ipaddress.ip_network(n)
    for n in ("14.160.0.0/11", "113.160.0.0/11", "27.64.0.0/12", "171.224.0.0/11", "42.112.0.0/13", "116.96.0.0/12")
]
# Hour-of-day weights (local time): quiet nights, office peaks at 9-11 and 14-16.
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 9, 16, 20, 20, 17, 9, 11, 18, 19, 16, 11, 7, 6, 5, 4, 3, 2]
# The 63 former provinces' citizen-ID codes (unchanged by the 2025 merger): a few common ones.
CCCD_PROVINCE_CODES = [
    "001",
    "079",
    "031",
    "048",
    "092",
    "036",
    "038",
    "040",
    "042",
    "046",
    "052",
    "056",
    "064",
    "066",
    "068",
    "074",
    "075",
    "077",
    "080",
    "083",
    "087",
    "089",
    "094",
    "096",
]
MOBILE_PREFIXES = [
    "32",
    "33",
    "34",
    "35",
    "36",
    "37",
    "38",
    "39",
    "56",
    "58",
    "59",
    "70",
    "76",
    "77",
    "78",
    "79",
    "81",
    "82",
    "83",
    "84",
    "85",
    "86",
    "88",
    "89",
    "90",
    "91",
    "92",
    "93",
    "94",
    "96",
    "97",
    "98",
    "99",
]
SURNAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Xuân", "Thu", "Hoài", "Gia"]
GIVEN = [
    "An",
    "Bình",
    "Chi",
    "Dũng",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hiếu",
    "Hoa",
    "Hùng",
    "Hương",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Nga",
    "Phong",
    "Phương",
    "Quân",
    "Sơn",
    "Tâm",
    "Thảo",
    "Trang",
    "Tú",
    "Vy",
]
PROCEDURES = ["1.001612", "1.000894", "2.000528", "1.004227", "1.001193", "2.001157", "1.003003", "1.010812"]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0 "
    "Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (Linux; Android 13; Redmi Note 12) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0 Mobile "
    "Safari/537.36 coccoc/1.0",
]
STATIC = [
    "/static/css/main.css",
    "/static/js/app.js",
    "/static/img/logo-dvcqg.png",
    "/favicon.ico",
    "/static/fonts/roboto.woff2",
    "/static/js/vendor.js",
]
SCANNER_PATHS = [
    "/.env",
    "/.git/config",
    "/wp-login.php",
    "/phpmyadmin/",
    "/admin/config.php",
    "/server-status",
    "/actuator/env",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/cgi-bin/luci",
    "/.aws/credentials",
    "/backup.sql",
    "/web.config",
    "/api/v1/../../etc/passwd",
    "/console",
    "/solr/admin/info/system",
    "/owa/auth/logon.aspx",
    "/boaform/admin/formLogin",
    "/HNAP1/",
]
SQLI = [
    "1' OR '1'='1",
    "1' UNION SELECT username,password FROM nguoi_dung--",
    "1; DROP TABLE ho_so--",
    "1' AND SLEEP(5)--",
    "1' AND extractvalue(1,concat(0x7e,version()))--",
    "') OR 1=1#",
]
TRAVERSAL = [
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fshadow",
    "....//....//windows/win.ini",
    "%2e%2e/%2e%2e/%2e%2e/proc/self/environ",
]


@dataclass
class Place:
    province: str
    province_code: str
    commune: str
    commune_code: int
    network: ipaddress.IPv4Network


@dataclass
class DemoDay:
    """The generated logs, plus the ground truth a person can compare alerts with."""

    access_lines: list[str] = field(default_factory=list)
    app_lines: list[str] = field(default_factory=list)
    attacks: dict[str, list[str]] = field(default_factory=dict)  # family -> attacker addresses
    places: list[Place] = field(default_factory=list)

    def write(self, folder: Path) -> dict[str, Path]:
        paths = {
            "access": folder / "portal-access.log",
            "app": folder / "portal-app.jsonl",
            "address_plan": folder / "address-plan.yaml",
        }
        # the logs hold (synthetic) citizens' personal data: owner-only, as everything under the data folder
        write_private(paths["access"], "".join(line + "\n" for line in self.access_lines).encode())
        write_private(paths["app"], "".join(line + "\n" for line in self.app_lines).encode())
        plan = ["# the demo's commune office networks (collectors/address-plan.yaml format)", "networks:"]
        for p in self.places:
            plan += [
                f"  - cidr: {p.network}",
                f"    commune_code: {p.commune_code}",
                f"    unit: Trung tâm Phục vụ hành chính công {p.commune}",
            ]
        write_private(paths["address_plan"], ("\n".join(plan) + "\n").encode())
        return paths


class _Gen:
    def __init__(self, seed: int, day: datetime, places: int) -> None:
        self.r = random.Random(seed)
        self.day = day
        self.out = DemoDay()
        self.places = self._places(places)
        self.out.places = self.places
        self.dossier_seq = 0

    # -- people and places --------------------------------------------------------
    def _places(self, n: int) -> list[Place]:
        provinces = list(Province.iter_all())
        wards = list(Ward.iter_all())
        chosen = self.r.sample(provinces, min(n, len(provinces)))
        places = []
        for i, prov in enumerate(chosen):
            in_prov = [w for w in wards if w.province_code == prov.code]
            for j, ward in enumerate(self.r.sample(in_prov, min(3, len(in_prov)))):
                net = ipaddress.ip_network(f"10.{int(prov.code.value)}.{i * 8 + j + 1}.0/24")
                places.append(Place(prov.name, f"{int(prov.code.value):02d}", ward.name, int(ward.code.value), net))
        return places

    def citizen_ip(self) -> str:
        net = self.r.choice(CITIZEN_NETS)
        return str(net[self.r.randrange(1, net.num_addresses - 1)])

    def office_ip(self, place: Place) -> str:
        return str(place.network[self.r.randrange(10, 250)])

    def name(self) -> str:
        return f"{self.r.choice(SURNAMES)} {self.r.choice(MIDDLE)} {self.r.choice(GIVEN)}"

    def cccd(self) -> str:
        year = self.r.randrange(1950, 2008)
        century_gender = (0 if year < 2000 else 2) + self.r.randrange(2)
        return f"{self.r.choice(CCCD_PROVINCE_CODES)}{century_gender}{year % 100:02d}{self.r.randrange(10**6):06d}"

    def phone(self) -> str:
        return f"0{self.r.choice(MOBILE_PREFIXES)}{self.r.randrange(10**7):07d}"

    def dossier_id(self, place: Place) -> str:
        self.dossier_seq += 1
        return f"G{place.province_code}.{self.r.randrange(10, 99)}-{self.day:%y%m%d}-{self.dossier_seq:04d}"

    def username(self) -> str:
        return f"{self.r.choice(['cd', 'cb', 'vneid'])}{self.r.randrange(10**8, 10**9)}"

    def moment(self) -> datetime:
        hour = self.r.choices(range(24), weights=HOUR_WEIGHTS)[0]
        return self.day.replace(hour=hour) + timedelta(
            seconds=self.r.randrange(3600), milliseconds=self.r.randrange(1000)
        )

    # -- log lines ----------------------------------------------------------------
    def access(
        self,
        t: datetime,
        ip: str,
        method: str,
        target: str,
        status: int,
        size: int,
        ua: str,
        user: str = "-",
        referrer: str = "https://dichvucong.gov.vn/",
    ) -> None:
        rt = self.r.uniform(0.002, 0.35) if status < 500 else self.r.uniform(1, 30)
        local = t.astimezone(VN_TZ)
        self.out.access_lines.append(
            f'{ip} - {user} [{local:%d/%b/%Y:%H:%M:%S %z}] "{method} {target} HTTP/1.1" {status} {size} '
            f'"{referrer}" "{ua}" rt={rt:.3f} urt="{max(rt - 0.001, 0):.3f}" ua="10.10.{self.r.randrange(1, 9)}.'
            f'{self.r.randrange(2, 40)}:8080" us="{status}"'
        )

    def app(self, t: datetime, **fields: object) -> None:
        record = {
            "time": t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "service": "dvcqg-portal",
            **fields,
        }
        self.out.app_lines.append(json.dumps(record, ensure_ascii=False))

    # -- normal traffic -------------------------------------------------------------
    def citizen_session(self) -> None:
        t = self.moment()
        ip, ua = self.citizen_ip(), self.r.choice(BROWSERS)
        place = self.r.choice(self.places)
        user = self.username()
        steps = [("GET", "/", 200)] + [("GET", s, 200) for s in self.r.sample(STATIC, 3)]
        steps.append(("GET", "/dang-nhap", 200))
        for method, target, status in steps:
            self.access(t, ip, method, target, status, self.r.randrange(300, 90000), ua)
            t += timedelta(milliseconds=self.r.randrange(50, 900))
        ok = self.r.random() > 0.06
        self.access(t, ip, "POST", "/dang-nhap/vneid/callback", 302 if ok else 401, 0, ua)
        self.app(
            t,
            level="info" if ok else "warning",
            action="login",
            method="vneid",
            outcome="success" if ok else "failure",
            user=user,
            ip=ip,
            province=place.province,
            commune=place.commune,
        )
        if not ok:
            return
        t += timedelta(seconds=self.r.randrange(5, 60))
        kind = self.r.random()
        if kind < 0.45:
            dossier = self.dossier_id(place)
            self.access(
                t,
                ip,
                "GET",
                f"/dich-vu-cong/ho-so/tra-cuu?maHoSo={dossier}",
                200,
                self.r.randrange(2000, 9000),
                ua,
                user,
            )
        elif kind < 0.85:
            proc = self.r.choice(PROCEDURES)
            self.access(t, ip, "GET", f"/dich-vu-cong/thu-tuc/{proc}", 200, self.r.randrange(8000, 40000), ua, user)
            t += timedelta(seconds=self.r.randrange(60, 600))
            dossier = self.dossier_id(place)
            self.access(t, ip, "POST", f"/dich-vu-cong/ho-so/nop?thuTuc={proc}", 201, 512, ua, user)
            self.app(
                t,
                level="info",
                action="dossier_submit",
                outcome="success",
                user=user,
                ip=ip,
                province=place.province,
                commune=place.commune,
                ma_ho_so=dossier,
                thu_tuc=proc,
                form={
                    "ho_ten": self.name(),
                    "so_cccd": self.cccd(),
                    "so_dien_thoai": self.phone(),
                    "ngay_sinh": f"{self.r.randrange(1, 28):02d}/{self.r.randrange(1, 12):02d}/"
                    f"{self.r.randrange(1950, 2006)}",
                    "dia_chi_thuong_tru": f"{self.r.randrange(1, 200)} đường {self.r.choice(GIVEN)}, "
                    f"{place.commune}, {place.province}",
                },
            )
            if self.r.random() < 0.4:
                t += timedelta(seconds=self.r.randrange(30, 300))
                self.access(t, ip, "POST", f"/thanh-toan/le-phi?maHoSo={dossier}", 200, 1024, ua, user)
        else:
            # personal data in a query string: an old lookup form that still sends it by GET
            if self.r.random() < 0.5:
                target = f"/dich-vu-cong/cong-dan/tra-cuu?soCCCD={self.cccd()}"
            else:
                target = f"/dich-vu-cong/ho-so/tra-cuu-sdt?soDienThoai={self.phone()}"
            self.access(t, ip, "GET", target, 200, self.r.randrange(1000, 5000), ua, user)

    def officer_work(self) -> None:
        place = self.r.choice(self.places)
        ip = self.office_ip(place)
        officer = f"cb.{place.province_code}.{self.r.randrange(100, 999)}"
        t = self.day.replace(hour=self.r.choice([8, 9, 10, 14, 15, 16])) + timedelta(seconds=self.r.randrange(3600))
        ua = BROWSERS[0]
        self.access(t, ip, "POST", "/can-bo/dang-nhap", 302, 0, ua, referrer="https://motcua.gov.vn/")
        self.app(
            t,
            level="info",
            action="login",
            method="password+otp",
            outcome="success",
            user=officer,
            ip=ip,
            province=place.province,
            commune=place.commune,
            role="can_bo_mot_cua",
        )
        for _ in range(self.r.randrange(3, 12)):
            t += timedelta(seconds=self.r.randrange(20, 400))
            dossier = self.dossier_id(place)
            self.access(t, ip, "GET", f"/can-bo/ho-so/{dossier}", 200, self.r.randrange(3000, 30000), ua, officer)
            self.access(t + timedelta(seconds=30), ip, "POST", f"/can-bo/ho-so/{dossier}/xu-ly", 200, 300, ua, officer)

    # -- attacks ----------------------------------------------------------------------
    def attacker_ip(self) -> str:
        return (
            f"{self.r.choice([45, 91, 103, 185, 193])}.{self.r.randrange(1, 254)}.{self.r.randrange(1, 254)}."
            f"{self.r.randrange(1, 254)}"
        )

    def sqli(self) -> None:
        ip = self.attacker_ip()
        self.out.attacks.setdefault("sql_injection", []).append(ip)
        t = self.day.replace(hour=2, minute=13)
        for payload in SQLI * 3:
            q = payload.replace(" ", "%20").replace("'", "%27")
            self.access(
                t,
                ip,
                "GET",
                f"/dich-vu-cong/ho-so/tra-cuu?maHoSo={q}",
                self.r.choice([200, 500]),
                1200,
                "sqlmap/1.8.4#stable (https://sqlmap.org)",
            )
            t += timedelta(seconds=self.r.randrange(1, 4))

    def traversal(self) -> None:
        ip = self.attacker_ip()
        self.out.attacks.setdefault("path_traversal", []).append(ip)
        t = self.day.replace(hour=3, minute=40)
        for payload in TRAVERSAL:
            self.access(t, ip, "GET", f"/tai-lieu/tai-ve?file={payload}", 400, 150, "curl/8.5.0")
            t += timedelta(seconds=2)

    def scanner(self) -> None:
        ip = self.attacker_ip()
        self.out.attacks.setdefault("scanner", []).append(ip)
        t = self.day.replace(hour=1, minute=5)
        ua = "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000541)"
        for i in range(150):
            path = (
                SCANNER_PATHS[i % len(SCANNER_PATHS)]
                if i < 60
                else f"/{self.r.choice(['admin', 'old', 'test', 'bak'])}{i}.php"
            )
            self.access(t, ip, "GET", path, 404, 162, ua, referrer="-")
            t += timedelta(milliseconds=self.r.randrange(80, 400))

    def credential_stuffing(self) -> None:
        t = self.day.replace(hour=22, minute=30)
        ips = [self.attacker_ip() for _ in range(25)]
        self.out.attacks.setdefault("credential_stuffing", []).extend(ips)
        ua = "python-requests/2.31.0"
        for i in range(400):
            ip = ips[i % len(ips)]
            user = self.username()
            ok = i == 233  # one leaked password works
            self.access(t, ip, "POST", "/dang-nhap", 302 if ok else 401, 0, ua)
            self.app(
                t,
                level="warning",
                action="login",
                method="password",
                outcome="success" if ok else "failure",
                user=user,
                ip=ip,
                reason=None if ok else "sai_mat_khau",
            )
            t += timedelta(milliseconds=self.r.randrange(150, 900))

    def brute_force(self) -> None:
        place = self.r.choice(self.places)
        ip = self.attacker_ip()
        self.out.attacks.setdefault("brute_force", []).append(ip)
        officer = f"cb.{place.province_code}.101"
        t = self.day.replace(hour=23, minute=10)
        for _ in range(60):
            self.access(t, ip, "POST", "/can-bo/dang-nhap", 401, 0, "Mozilla/5.0 (X11; Linux x86_64) Hydra")
            self.app(
                t,
                level="warning",
                action="login",
                method="password",
                outcome="failure",
                user=officer,
                ip=ip,
                province=place.province,
                commune=place.commune,
                reason="sai_mat_khau",
            )
            t += timedelta(seconds=self.r.randrange(1, 3))

    def enumeration(self) -> None:
        ip = self.citizen_ip()
        self.out.attacks.setdefault("dossier_enumeration", []).append(ip)
        place = self.places[0]
        t = self.day.replace(hour=13, minute=2)
        ua = BROWSERS[1]
        for n in range(1, 301):
            dossier = f"G{place.province_code}.21-{self.day:%y%m%d}-{n:04d}"
            self.access(
                t,
                ip,
                "GET",
                f"/api/v1/ho-so/{dossier}",
                self.r.choice([200, 404, 404, 403]),
                self.r.randrange(100, 4000),
                ua,
                "vneid123456789",
            )
            t += timedelta(milliseconds=self.r.randrange(200, 700))

    def commune_probe(self) -> None:
        place = self.places[-1]
        ip = self.office_ip(place)
        self.out.attacks.setdefault("commune_host_probing", []).append(ip)
        t = self.day.replace(hour=19, minute=45)
        for path in [
            "/can-bo/quan-tri",
            "/can-bo/quan-tri/nguoi-dung",
            "/can-bo/xuat-du-lieu?bang=cong_dan&limit=100000",
            "/can-bo/xuat-du-lieu?bang=ho_so&limit=500000",
        ]:
            self.access(
                t,
                ip,
                "GET",
                path,
                403 if "quan-tri" in path else 200,
                52_000_000 if "xuat" in path else 300,
                "Go-http-client/1.1",
                f"cb.{place.province_code}.777",
            )
            t += timedelta(seconds=20)


def generate(seed: int = 7, day: datetime | None = None, sessions: int = 3000, provinces: int = 6) -> DemoDay:
    """Generate one day of portal logs. ``sessions`` citizen sessions (about 9 access lines each)."""
    day = (day or datetime(2026, 11, 20, tzinfo=VN_TZ)).replace(hour=0, minute=0, second=0, microsecond=0)
    g = _Gen(seed, day, provinces)
    for _ in range(sessions):
        g.citizen_session()
    for _ in range(max(sessions // 20, 1)):
        g.officer_work()
    for attack in (
        g.sqli,
        g.traversal,
        g.scanner,
        g.credential_stuffing,
        g.brute_force,
        g.enumeration,
        g.commune_probe,
    ):
        attack()
    # logs arrive in time order, as a front end writes them
    g.out.access_lines.sort(key=_access_time)
    g.out.app_lines.sort(key=lambda line: json.loads(line)["time"])
    return g.out


def _access_time(line: str) -> datetime:
    start = line.index("[") + 1
    return datetime.strptime(line[start : line.index("]", start)], "%d/%b/%Y:%H:%M:%S %z")
