"""Shared fixtures for the classifier tests: a warm analyzer and sample data on disk."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sentinel.classify.analyzer import build_analyzer
from tests.content import CLASSIFIERS

CITIZENS = [
    ["id", "hoTen", "so_cccd", "soDienThoai", "ngay_sinh", "dia_chi_thuong_tru", "dan_toc", "ma_ho_so", "so_tien"],
    ["1", "Nguyễn Văn An", "001085012387", "0912 384 657", "12/03/1985", "Số 12 phố Huế, phường Hai Bà Trưng, Hà Nội",
     "Kinh", "000.00.12.H26-250101-0001", "150000"],
    ["2", "Trần Thị Bình", "079190004512", "0983 555 219", "01/07/1990", "Thôn Đông, xã Tân Lập, tỉnh Phú Thọ", "Tày",
     "000.00.12.H26-250101-0002", "200000"],
    ["3", "LE HOANG NAM", "038203001234", "+84 971 222 333", "2003-05-17",
     "123 Lê Lợi, Phường Bến Thành, TP. Hồ Chí Minh", "Mường", "000.00.12.H26-250101-0003", "0"],
    ["4", "Phạm Minh Tuấn", "024087009876", "0356 784 120", "05/11/1987", "Ấp 3, xã Tân Phú, tỉnh Đồng Nai", "Kinh",
     "000.00.12.H26-250101-0004", "50000"],
]  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def warm_analyzer() -> None:
    """Build the analyzer once per session (loading the gazetteer takes about a second)."""
    build_analyzer(classifiers_dir=CLASSIFIERS)


@pytest.fixture
def citizens_csv(tmp_path: Path) -> Path:
    path = tmp_path / "citizens.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(CITIZENS)
    return path
