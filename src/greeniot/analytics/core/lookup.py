"""Dictionary lookups over the estate context, built once.

The engine looks devices up as rows appear, so it builds these maps once per context.
"""

from __future__ import annotations

from dataclasses import dataclass

from greeniot.estate import DeviceBinding, EstateContext, TreeInfo, ZoneInfo


@dataclass(frozen=True, slots=True)
class RowMeta:
    """What the estate says about one device's row: its tree or zone, if bound."""

    tree: str | None = None
    zone: str | None = None
    heritage: bool = False
    zone_info: ZoneInfo | None = None


class EstateLookup:
    __slots__ = ("_devices", "_trees", "_zones")

    def __init__(self, context: EstateContext) -> None:
        self._devices: dict[tuple[str, str], DeviceBinding] = {
            (b.site, b.device): b for b in context.devices}
        self._trees: dict[tuple[str, str], TreeInfo] = {(t.site, t.tree): t for t in context.trees}
        self._zones: dict[tuple[str, str], ZoneInfo] = {(z.site, z.zone): z for z in context.zones}

    def zones(self) -> tuple[ZoneInfo, ...]:
        return tuple(self._zones.values())

    def binding(self, site: str, device: str) -> DeviceBinding | None:
        return self._devices.get((site, device))

    def tree_info(self, site: str, device: str) -> TreeInfo | None:
        """The registry's record of the tree a device is bound to, if any."""
        b = self._devices.get((site, device))
        return self._trees.get((site, b.tree)) if b is not None and b.tree else None

    def meta(self, site: str, device: str) -> RowMeta:
        """Tree/zone of a device; a device the registry does not know is analysed alone."""
        b = self._devices.get((site, device))
        if b is None:
            return RowMeta()
        tree = self._trees.get((site, b.tree)) if b.tree else None
        zone = self._zones.get((site, b.zone)) if b.zone else None
        return RowMeta(tree=b.tree, zone=b.zone, heritage=bool(tree and tree.heritage),
                       zone_info=zone)
