"""Hand-made records for the search, timeline, watch and near-duplicate tests.

``WIRE_A``/``WIRE_B`` are the same (invented) Reuters story as carried by two
sources, lightly re-edited; ``OTHER_GRID`` shares its subject but not its text.
"""

from __future__ import annotations

from tests.records import ARCHIVE, record

GRID_BODY = ("Russia launched a wave of drones and missiles at the power grid of Ukraine overnight, "
             "officials said on Thursday, cutting electricity in several regions as temperatures fell "
             "below freezing. Air defences shot down most of the drones, the air force said, and repair "
             "crews were working to restore supply to hospitals and water stations.")

WIRE_A = record("https://wire-a.example/world/ukraine-grid", "Russia strikes Ukraine power grid with drones and missiles",
                "2024-10-24T05:10:00+00:00", source="wire-a", kind="article", body=GRID_BODY, agency="Reuters",
                authors=["Jane Doe"])
WIRE_B = record("https://wire-b.example/news/ukraine-grid-attack",
                "Russia strikes Ukraine's power grid with drones, missiles",
                "2024-10-24T05:40:00+00:00", source="wire-b", kind="article", agency="REUTERS",
                body=GRID_BODY.replace("on Thursday", "on Thursday morning").replace("fell", "dropped"),
                authors=["Jane Doe", "Omar Haddad"])
OTHER_GRID = record("https://wire-b.example/news/grid-analysis", "Analysis: why Ukraine's power grid keeps failing",
                    "2024-10-24T09:00:00+00:00", source="wire-b", kind="article", agency="AP",
                    body="Engineers say the power grid of Ukraine was built for a different era, and that "
                         "decentralised generation would make it far harder to knock out from the air.",
                    authors=["Omar Haddad"])

SEARCH_ARCHIVE = [*ARCHIVE, WIRE_A, WIRE_B, OTHER_GRID]
