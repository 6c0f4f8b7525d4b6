"""Whether a tree sheds its leaves: the registry's ``leaf_habit`` if set, else by genus.

Neutral (imports nothing of greeniot): the sway analytics judges a deciduous tree against the
baseline of its foliage state, and the simulators give deciduous trees leaf seasons, from
the same table.
"""

from __future__ import annotations

HABITS = ("deciduous", "evergreen")

#: Genera whose species are (mostly) deciduous. Temperate street and park trees, and the
#: deciduous or dry-season-deciduous trees of a subtropical mix. A tree's registry
#: ``leaf_habit`` overrides this; a genus not listed counts as evergreen (one baseline).
DECIDUOUS_GENERA = frozenset({
    "acer", "aesculus", "ailanthus", "alnus", "betula", "bombax", "carpinus", "castanea",
    "catalpa", "celtis", "cercis", "delonix", "fagus", "fraxinus", "ginkgo", "gleditsia",
    "juglans", "koelreuteria", "lagerstroemia", "larix", "liquidambar", "liriodendron",
    "malus", "metasequoia", "melia", "morus", "paulownia", "platanus", "populus", "prunus",
    "pyrus", "quercus", "robinia", "salix", "sophora", "styphnolobium", "sorbus",
    "taxodium", "terminalia", "tilia", "ulmus", "zelkova",
})


def leaf_habit(species: str | None, habit: str | None = None) -> str:
    """``deciduous`` or ``evergreen``: the registry's habit if set, else by genus."""
    if habit is not None:
        h = habit.strip().lower()
        if h not in HABITS:
            raise ValueError(f"leaf_habit must be one of {HABITS}, got {habit!r}")
        return h
    genus = (species or "").strip().split(" ")[0].lower()
    return "deciduous" if genus in DECIDUOUS_GENERA else "evergreen"


__all__ = ["DECIDUOUS_GENERA", "HABITS", "leaf_habit"]
