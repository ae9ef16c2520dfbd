from sentinel.lazy import lazy_exports

_EXPORTS = {
    "AddressPlan": "addressplan",
    "FILE_FORMATS": "files",
    "FileOptions": "files",
    "FileSource": "files",
    "LINE_FORMATS": "parsers",
    "LineReader": "parsers",
    "Listen": "syslog",
    "LiveSource": "live",
    "MAX_LINE_BYTES": "parsers.common",
    "NAME": "registry",
    "NetflowSource": "netflow",
    "PcapSource": "traffic",
    "PortalProfile": "parsers.portal",
    "Source": "source",
    "SourceDef": "registry",
    "Strict": "registry",
    "SyslogOptions": "syslog",
    "SyslogSource": "syslog",
    "build_event": "parsers.common",
    "build_source": "registry",
    "load_profile": "parsers.portal",
    "parse_offset": "registry",
    "parse_size": "registry",
    "stream_anchor": "syslog_parse",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
