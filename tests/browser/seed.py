"""Data for the browser tests: alerts of several families (one carrying script in its log line) and a dataset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from tests.content import CLASSIFIERS
from tests.respond.conftest import make_alert

XSS = "<script>alert('xss')</script>"


def seed_alerts(store) -> dict[str, str]:
    now = datetime.now(UTC)
    web = make_alert(
        severity="critical", title="SQL injection (UNION SELECT) in a portal request", when=now - timedelta(minutes=20)
    )
    web.events[0]["user_agent"] = {"original": f"sqlmap/1.8 {XSS}"}
    web.events[0]["event"]["original"] = f'203.0.113.7 - - "GET /dich-vu-cong/tra-cuu?q={XSS} HTTP/1.1" 200'
    web.count = 37
    out = {"web": store.record_alert(web).id}
    out["brute"] = store.record_alert(
        make_alert(
            rule_id="auth-bruteforce",
            title="Brute force of portal logins from one address",
            tags=("attack.credential-access", "attack.t1110.001"),
            ip="198.51.100.23",
            severity="high",
            province="Thành phố Hồ Chí Minh",
            commune="Phường Sài Gòn",
            when=now - timedelta(hours=3),
        )
    ).id
    for i in range(6):
        store.record_alert(
            make_alert(
                rule_id="web-scanner",
                title="Vulnerability scanner user agent",
                tags=("attack.reconnaissance", "attack.t1595.002"),
                ip=f"192.0.2.{i + 10}",
                severity="medium",
                province=["Hà Nội", "Huế", "Đà Nẵng"][i % 3],
                when=now - timedelta(hours=i * 7),
            )
        )
    out["scan"] = store.record_alert(
        make_alert(
            rule_id="net-scan",
            title="Internal port scan from a commune network",
            tags=("attack.discovery", "attack.t1046"),
            ip="10.34.12.8",
            severity="high",
            province="Tỉnh Lào Cai",
            commune="Xã Bát Xát",
            when=now - timedelta(hours=30),
        )
    ).id
    return out


def seed_dataset(app, root: Path, scan_dataset) -> str:
    """Scan a small citizen-dossier CSV with the real classifier and save it where the console reads it."""
    from sentinel.api.classifications import classification_store

    cstore = classification_store(SimpleNamespace(app=app))  # opened as the API opens it
    csv = root / "ho_so_dich_vu_cong.csv"
    csv.write_text(
        "ho_ten,so_cccd,so_dien_thoai,ma_ho_so,ghi_chu\n"
        "Nguyễn Văn An,001203004567,0912345678,HS-2026-0001,Hồ sơ cấp đổi\n"
        "Trần Thị Bình,079195001234,0987654321,HS-2026-0002,Đăng ký khai sinh\n"
        "Lê Văn Cường,031098007654,0356789012,HS-2026-0003,Xác nhận cư trú\n",
        encoding="utf-8",
    )
    for result in scan_dataset(str(csv), classifiers_dir=CLASSIFIERS):
        cstore.save_scan(result)
    return cstore.list_datasets()[0]["dataset"]
