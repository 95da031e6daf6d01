"""Demo data a new store starts with: citizens eligible and refused for each reason, their
endorsements, and documents ready in the demo pickup machines and at the counter. It stands
in for the national system's records; nothing else in the store depends on it."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Connection

from central.store.common import DEMO_PICKUP_KIOSK, make_id_number
from central.store.schema import addresses, citizens, documents, endorsements


def seed(conn: Connection, today: date) -> None:
    def d(days: int) -> str:
        return (today + timedelta(days=days)).isoformat()

    people = [
        # id number, name, permit expiry, first app, registered, endorsement until, used
        (make_id_number("440304", "19900307", "123"), "Chen Wei", d(3000), 0, 0, None, 1),
        (make_id_number("440106", "19851122", "456"), "Li Na", d(2500), 0, 0, d(-30), 1),
        (make_id_number("440305", "20000101", "789"), "Wang Fang", d(1500), 0, 0, None, 1),
        (make_id_number("440303", "19770615", "234"), "Zhao Lei", d(3000), 1, 0, None, 0),
        (make_id_number("440104", "19680912", "345"), "Sun Qiang", d(3000), 0, 1, None, 1),
        (make_id_number("440307", "19920420", "567"), "Zhou Min", d(3000), 0, 0, d(60), 1),
        (make_id_number("110105", "19880808", "678"), "Wu Gang", d(3000), 0, 0, None, 0),
        (make_id_number("440308", "19950218", "891"), "Zheng Hui", d(100), 0, 0, None, 1),
        (make_id_number("440306", "19600101", "902"), "Feng Yu", d(200), 0, 0, None, 1),
    ]
    rows = [
        {
            "id_number": idn,
            "name": name,
            "permit_no": f"C{10_000_000 + n * 7919:08d}",
            "permit_expiry": expiry,
            "first_application": first,
            "registered_personnel": reg,
            "endorsement_until": until,
            "permit_used": used,
        }
        for n, (idn, name, expiry, first, reg, until, used) in enumerate(people)
    ]
    # The demo's virtual permit chip (devices/simulators/vcard.py DEFAULT_MRZ) belongs to
    # this citizen, so a renewal can be walked through end to end with the simulator.
    rows.append(
        {
            "id_number": make_id_number("440304", "19900101", "135"),
            "name": "Zhang San",
            "permit_no": "C12345678",
            "permit_expiry": "2030-01-01",
            "first_application": 0,
            "registered_personnel": 0,
            "endorsement_until": None,
            "permit_used": 1,
        }
    )
    conn.execute(citizens.insert(), rows)
    # The endorsements behind Li Na's (expired) and Zhou Min's (valid) end dates.
    conn.execute(
        endorsements.insert(),
        [
            {
                "endorsement_no": f"E{today:%Y%m%d}S{n:05d}",
                "id_number": idn,
                "option": code,
                "region": "HK",
                "purpose": "individual",
                "fee_cny": fee,
                "valid_from": start,
                "valid_until": until,
            }
            for n, (idn, code, fee, start, until) in enumerate(
                [
                    (people[1][0], "multi_1y", 80, d(-395), d(-30)),
                    (people[5][0], "two_trips", 30, d(-30), d(60)),
                ]
            )
        ],
    )
    here = DEMO_PICKUP_KIOSK
    docs = [
        (people[0][0], "hk_macau_permit", "A01", here),
        (people[2][0], "passport", "A02", here),
        (people[2][0], "taiwan_permit", "B07", here),
        # Zhou Min's permit is in another pickup machine, Zheng Hui's at the counter.
        (people[5][0], "hk_macau_permit", "A03", "SZ-FT-K02"),
        (people[7][0], "passport", "-", None),
    ]
    conn.execute(
        documents.insert(),
        [
            {
                "document_no": f"D{today:%Y%m%d}{n:04d}",
                "id_number": idn,
                "kind": kind,
                "slot": slot,
                "ready_since": d(-2),
                "handed_over_at": None,
                "kiosk_id": kiosk,
            }
            for n, (idn, kind, slot, kiosk) in enumerate(docs)
        ],
    )
    # Addresses on record, for free EMS delivery: Chen Wei has one, Wang Fang none (she
    # types hers on the kiosk's keyboard).
    conn.execute(
        addresses.insert(),
        [
            {"id_number": people[0][0], "address": "广东省深圳市福田区福华三路88号2栋1203"},
            {"id_number": people[5][0], "address": "广东省深圳市南山区科技园南路16号"},
        ],
    )
