"""Record use cases: create, retrieve, update/upsert, delete and query, with privileges, depth and system columns.

Load → decide → persist. Each step raises the Web API's own error: 404 0x80040217 for a missing record, 412 for a
failed condition (``If-Match`` / ``If-None-Match``), 403 0x80040220 naming the missing privilege.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

from d365local.clock import Clock
from d365local.dataverse import errors
from d365local.dataverse.domain import sdk_messages
from d365local.dataverse.domain.binding.binder import bind_filter, bind_orderby
from d365local.dataverse.domain.binding.projection import Navigation
from d365local.dataverse.domain.binding.tree import BoundExpression
from d365local.dataverse.domain.callers import AuthorizedCaller
from d365local.dataverse.domain.model import Access, privilege_id, privilege_name
from d365local.dataverse.domain.security import Permissions
from d365local.dataverse.domain.storage import RecordQuery, RecordStore, Row, SecurityStore
from d365local.dataverse.errors import DataverseError
from d365local.dataverse.odata.payloads import Binding, RecordBody, etag, selected_attributes, storable
from d365local.dataverse.odata.query_options import QueryOptions
from d365local.dataverse.odata.resource_path import Segment
from d365local.dataverse.schema.metadata import CascadeConfiguration, Catalog, EntityDefinition

_NAME_PARTS = {"contact": ("firstname", "lastname"), "lead": ("firstname", "lastname")}
"""Tables whose primary name Dataverse composes from other columns."""


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    more: bool
    count: int | None = None


_DERIVED_TABLES = ("sdkmessage", "sdkmessagefilter")


@dataclass(frozen=True)
class Saved:
    row: Row
    created: bool


class Records:
    def __init__(
        self,
        store: RecordStore,
        clock: Clock,
        *,
        security: SecurityStore | None = None,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._store = store
        self._prepared: weakref.WeakKeyDictionary[Catalog, set[str]] = weakref.WeakKeyDictionary()
        self._prepared_lock = threading.Lock()
        self._clock = clock
        self._security = security
        """Who may own what: a new owner must be able to read the record (None: owners are not checked)."""
        self._new_id = new_id

    # -- keys ---------------------------------------------------------------------------------------------------
    def locate(self, caller: AuthorizedCaller, entity: EntityDefinition, key: Segment) -> Row | None:
        """The row a key segment names — by id or by an alternate key — without a privilege check."""
        org = caller.organization.id
        self._prepare(caller, entity)
        if key.guid is not None:
            return self._store.fetch(entity, org, str(key.guid))
        names = tuple(sorted(name for name, _ in key.named))
        if len(key.named) == 1 and key.named[0][0] == entity.primary_id:
            return self._store.fetch(entity, org, str(key.named[0][1]))
        if names not in {tuple(sorted(k)) for k in entity.alternate_keys}:
            raise DataverseError(errors.KEY_NOT_DEFINED, entity=entity.logical_name)
        values = {name: value for name, value in key.named}
        if any(isinstance(v, str) and not storable(v) for v in values.values()):
            raise DataverseError(
                errors.INVALID_ARGUMENT, detail="A key value contains characters that cannot be stored."
            )
        return self._store.fetch_by_key(entity, org, values)

    def _key_description(self, key: Segment) -> str:
        if key.guid is not None:
            return str(key.guid)
        return ",".join(f"{name}={value}" for name, value in key.named)

    # -- read -----------------------------------------------------------------------------------------------------
    def _mirror_activities(
        self, caller: AuthorizedCaller, entity: EntityDefinition, rows: Sequence[Mapping[str, Any]], *, creating: bool
    ) -> None:
        """Every activity (task, email, phone call…) is also an ``activitypointer`` row with the columns the two
        share, so ``activitypointers`` lists them all, as in Dataverse."""
        pointer = _pointer_of(caller.catalog, entity)
        if pointer is None:
            return
        org = caller.organization.id
        shared = [c.logical_name for c in pointer.columns if entity.column(c.logical_name) is not None]
        for lookup in pointer.lookups:
            own = entity.column(lookup.logical_name)
            if own is not None and len(lookup.targets) > 1 and len(own.targets) > 1:
                shared.append(lookup.type_column)  # which table a polymorphic lookup points at
        mirrored = [{name: row[name] for name in shared if name in row} for row in rows]
        if creating:
            self._store.insert_many(
                pointer, org, [{**row, "activitytypecode": entity.logical_name} for row in mirrored]
            )
            return
        for row in mirrored:
            changed = {name: value for name, value in row.items() if name != pointer.primary_id}
            if changed:
                self._store.update(pointer, org, str(row[pointer.primary_id]), changed)

    def _prepare(self, caller: AuthorizedCaller, entity: EntityDefinition) -> None:
        """Tables whose rows derive from the catalog (``sdkmessage``, ``sdkmessagefilter``) get them before the first
        read of each organization's catalog in this process; custom tables have theirs at once."""
        if entity.logical_name not in _DERIVED_TABLES:
            return
        org = caller.organization.id
        with self._prepared_lock:
            if org in self._prepared.get(caller.catalog, set()):
                return
        messages = caller.catalog.by_logical_name("sdkmessage")
        filters = caller.catalog.by_logical_name("sdkmessagefilter")
        if messages is not None and filters is not None:
            with self._store.atomic():
                self._store.synchronize(messages, org, sdk_messages.message_rows())
                self._store.synchronize(filters, org, sdk_messages.filter_rows(caller.catalog))
        with self._prepared_lock:
            self._prepared.setdefault(caller.catalog, set()).add(org)

    def retrieve(self, caller: AuthorizedCaller, entity: EntityDefinition, key: Segment) -> Row:
        caller.permissions.grant(Access.READ, entity)
        row = self.locate(caller, entity, key)
        if row is None:
            raise DataverseError(errors.RECORD_NOT_FOUND, entity=entity.logical_name, id=self._key_description(key))
        caller.permissions.grant_on(Access.READ, entity, row)
        return row

    def query(
        self, caller: AuthorizedCaller, entity: EntityDefinition, options: QueryOptions, *, page_size: int, offset: int
    ) -> Page:
        grant = caller.permissions.grant(Access.READ, entity)
        self._prepare(caller, entity)
        base = RecordQuery(
            filter=self._bind_filter(caller, entity, options),
            orderby=bind_orderby(options.orderby, entity),
            grant=grant,
            user_id=caller.user_id,
            business_unit_id=caller.permissions.user.business_unit_id,
            now=self._clock.now(),
        )
        limit = page_size
        if options.top is not None:
            limit = min(page_size, max(0, options.top - offset))
        rows = self._store.select(entity, caller.organization.id, replace(base, limit=limit + 1, offset=offset))
        reached_top = options.top is not None and offset + min(len(rows), limit) >= options.top
        more = len(rows) > limit and not reached_top
        count = self._store.count(entity, caller.organization.id, base) if options.count else None
        return Page(rows[:limit], more, None if count is None else min(count, 5000))

    def lookup_names(
        self, caller: AuthorizedCaller, entity: EntityDefinition, rows: Sequence[Row], select: Sequence[str] | None
    ) -> dict[tuple[str, str], str]:
        """(target table, id) → the target's primary name, for the lookups these rows show: what Dataverse sends as
        a lookup's FormattedValue. One query per target table; no Read check on the targets, as in Dataverse,
        where the name travels with the lookup."""
        wanted: dict[str, set[str]] = {}
        for attribute in selected_attributes(entity, select):
            if not attribute.type.is_lookup:
                continue
            for row in rows:
                value = row.get(attribute.logical_name)
                if value is not None:
                    target = row.get(attribute.type_column) or attribute.targets[0]
                    wanted.setdefault(str(target), set()).add(str(value).lower())
        names: dict[tuple[str, str], str] = {}
        for target, ids in wanted.items():
            definition = caller.catalog.by_logical_name(target)
            if definition is None:
                continue
            for record_id, name in self._store.names(definition, caller.organization.id, ids).items():
                names[(target, record_id)] = name
        return names

    def fetch_many(self, caller: AuthorizedCaller, entity: EntityDefinition, record_ids: Collection[str]) -> list[Row]:
        """The rows with these ids, in one query, without a privilege check (the caller decides what to show)."""
        if not record_ids:
            return []
        self._prepare(caller, entity)
        query = RecordQuery(within=(entity.primary_id, frozenset(record_ids)), now=self._clock.now())
        return self._store.select(entity, caller.organization.id, query)

    def related_many(
        self,
        caller: AuthorizedCaller,
        entity: EntityDefinition,
        lookup: str,
        parent_ids: Sequence[str],
        options: QueryOptions,
    ) -> dict[str, list[Row]]:
        """Rows of ``entity`` whose ``lookup`` is one of ``parent_ids`` (collection-valued ``$expand`` of a whole page),
        within Read depth, in one query: parent id (lower-case) → its rows, ordered, at most ``$top`` (or 5000) each."""
        if not parent_ids:
            return {}
        grant = caller.permissions.grant(Access.READ, entity)
        query = RecordQuery(
            filter=self._bind_filter(caller, entity, options),
            orderby=bind_orderby(options.orderby, entity),
            within=(lookup, frozenset(p.lower() for p in parent_ids)),
            grant=grant,
            user_id=caller.user_id,
            business_unit_id=caller.permissions.user.business_unit_id,
            now=self._clock.now(),
        )
        cap = min(options.top, 5000) if options.top is not None else 5000
        if len(parent_ids) == 1:
            query = replace(query, limit=cap)  # one parent: the database can stop at the cap
        groups: dict[str, list[Row]] = {}
        for row in self._store.select(entity, caller.organization.id, query):
            group = groups.setdefault(str(row[lookup]).lower(), [])
            if len(group) < cap:
                group.append(row)
        return groups

    def associated_many(
        self, caller: AuthorizedCaller, navigation: Navigation, parent_ids: Sequence[str], options: QueryOptions
    ) -> dict[str, list[Row]]:
        """Rows of ``navigation.target`` associated with each of ``parent_ids`` through its N:N relationship (an
        ``$expand`` of a page), within Read depth, in two queries: parent id (lower-case) → its rows, ordered, at most
        ``$top`` (or 5000) each."""
        relationship, target = navigation.relationship, navigation.target
        assert relationship is not None
        links = self._store.linked(relationship, caller.organization.id, navigation.from_first, parent_ids)
        related = {record_id for ids in links.values() for record_id in ids}
        if not related:
            return {}
        query = RecordQuery(
            filter=self._bind_filter(caller, target, options),
            orderby=bind_orderby(options.orderby, target),
            within=(target.primary_id, frozenset(related)),
            grant=caller.permissions.grant(Access.READ, target),
            user_id=caller.user_id,
            business_unit_id=caller.permissions.user.business_unit_id,
            now=self._clock.now(),
        )
        rows = self._store.select(target, caller.organization.id, query)
        cap = min(options.top, 5000) if options.top is not None else 5000
        groups: dict[str, list[Row]] = {}
        for parent, ids in links.items():
            group = [row for row in rows if str(row[target.primary_id]).lower() in ids][:cap]
            if group:
                groups[parent] = group
        return groups

    def associate(
        self,
        caller: AuthorizedCaller,
        entity: EntityDefinition,
        key: Segment,
        navigation: Navigation,
        target_key: Segment,
        *,
        remove: bool = False,
    ) -> None:
        """Associate (or, with ``remove``, disassociate) two records through an N:N relationship. Both records must
        be readable, and the caller needs Append and AppendTo on both tables, as Dataverse asks."""
        relationship, target = navigation.relationship, navigation.target
        assert relationship is not None
        row = self.retrieve(caller, entity, key)
        other = self.retrieve(caller, target, target_key)
        for table, record in ((entity, row), (target, other)):
            caller.permissions.grant_on(Access.APPEND, table, record)
            caller.permissions.grant_on(Access.APPEND_TO, table, record)
        own_id, other_id = str(row[entity.primary_id]), str(other[target.primary_id])
        first, second = (own_id, other_id) if navigation.from_first else (other_id, own_id)
        if not remove:
            self._store.link(relationship, caller.organization.id, first, second)
        elif not self._store.unlink(relationship, caller.organization.id, first, second):
            raise DataverseError(
                errors.INVALID_ARGUMENT,
                detail=f"The records are not associated through the relationship {relationship.schema_name}.",
            )

    def related(
        self, caller: AuthorizedCaller, entity: EntityDefinition, lookup: str, parent_id: str, options: QueryOptions
    ) -> list[Row]:
        """Rows of ``entity`` whose ``lookup`` is ``parent_id`` (a collection-valued navigation), within Read depth."""
        return self.related_many(caller, entity, lookup, [parent_id], options).get(parent_id.lower(), [])

    # -- write ----------------------------------------------------------------------------------------------------
    def create(
        self,
        caller: AuthorizedCaller,
        entity: EntityDefinition,
        body: RecordBody,
        *,
        record_id: str | None = None,
        key_values: Mapping[str, Any] | None = None,
    ) -> Row:
        caller.permissions.grant(Access.CREATE, entity)
        _refuse_creates(entity, "Create")
        values = self._new_row(caller, entity, body, record_id, key_values)
        with self._store.atomic():
            self._store.insert(entity, caller.organization.id, values)
            self._mirror_activities(caller, entity, [values], creating=True)
        created = self._store.fetch(entity, caller.organization.id, values[entity.primary_id])
        assert created is not None
        return created

    def create_many(
        self, caller: AuthorizedCaller, entity: EntityDefinition, bodies: Sequence[RecordBody]
    ) -> list[str]:
        """CreateMultiple: every row validated first, then one insert for all (the caller's transaction decides)."""
        caller.permissions.grant(Access.CREATE, entity)
        _refuse_creates(entity, "CreateMultiple")
        rows = [self._new_row(caller, entity, body, None, None) for body in bodies]
        with self._store.atomic():
            self._store.insert_many(entity, caller.organization.id, rows)
            self._mirror_activities(caller, entity, rows, creating=True)
        return [str(row[entity.primary_id]) for row in rows]

    def _new_row(
        self,
        caller: AuthorizedCaller,
        entity: EntityDefinition,
        body: RecordBody,
        record_id: str | None,
        key_values: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """A new record's columns: the body's, the lookups it binds, system columns, defaults."""
        values = dict(body.values)
        values.update(key_values or {})
        identifier = record_id or values.pop(entity.primary_id, None) or self._new_id()
        values.update(self._bindings(caller, entity, body.bindings))
        self._check_application_id(caller, entity, values, str(identifier))
        if values.get("ownerid") is not None and str(values["ownerid"]).lower() != caller.user_id.lower():
            caller.permissions.grant(Access.ASSIGN, entity)  # creating a record for another owner assigns it
            self._check_new_owner(caller, entity, values)
        now = self._now()
        user = caller.permissions.user
        values[entity.primary_id] = identifier
        values.update(self._system_columns(entity, now, user.id, creating=True))
        if entity.column("ownerid") is not None and "ownerid" not in values:
            values["ownerid"], values["ownerid_type"] = user.id, "systemuser"
        if entity.column("owningbusinessunit") is not None:
            values["owningbusinessunit"] = user.business_unit_id
        self._defaults(entity, values)
        self._settle_state(entity, values, {}, str(identifier))
        self._compose_name(entity, values, {})
        return values

    def update(
        self,
        caller: AuthorizedCaller,
        entity: EntityDefinition,
        key: Segment,
        body: RecordBody,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> Saved:
        """PATCH: update, or create when the record is missing (upsert) unless ``If-Match`` forbids it."""
        existing = self.locate(caller, entity, key)
        if if_none_match is not None and if_none_match.strip() == "*" and existing is not None:
            raise DataverseError(errors.DUPLICATE_RECORD)
        if existing is None:
            if if_match is not None:
                raise DataverseError(errors.RECORD_NOT_FOUND, entity=entity.logical_name, id=self._key_description(key))
            record_id = str(key.guid) if key.guid is not None else None
            key_values = {name: value for name, value in key.named} if key.guid is None else None
            row = self.create(caller, entity, body, record_id=record_id, key_values=key_values)
            return Saved(row, created=True)
        caller.permissions.grant_on(Access.WRITE, entity, existing)
        if if_match is not None and if_match.strip() != "*" and if_match.strip() != etag(existing.get("versionnumber")):
            raise DataverseError(errors.VERSION_MISMATCH)
        values = dict(body.values)
        values.pop(entity.primary_id, None)
        if _appends(body.bindings):
            caller.permissions.grant_on(Access.APPEND, entity, existing)
        values.update(self._bindings(caller, entity, body.bindings))
        self._check_application_id(caller, entity, values, str(existing[entity.primary_id]))
        if "ownerid" in values and str(values["ownerid"] or "").lower() != str(existing.get("ownerid") or "").lower():
            caller.permissions.grant_on(Access.ASSIGN, entity, existing)  # a new owner is an Assign, as in Dataverse
            self._check_new_owner(caller, entity, values)
        values.update(self._system_columns(entity, self._now(), caller.user_id, creating=False))
        if entity.column("versionnumber") is not None:
            values["versionnumber"] = int(existing.get("versionnumber") or 0) + 1
        self._settle_state(entity, values, existing, str(existing[entity.primary_id]))
        self._compose_name(entity, values, existing)
        record_id = str(existing[entity.primary_id])
        with self._store.atomic():
            self._store.update(entity, caller.organization.id, record_id, values)
            self._mirror_activities(caller, entity, [{**values, entity.primary_id: record_id}], creating=False)
        updated = self._store.fetch(entity, caller.organization.id, record_id)
        assert updated is not None
        return Saved(updated, created=False)

    def delete(
        self, caller: AuthorizedCaller, entity: EntityDefinition, key: Segment, *, if_match: str | None = None
    ) -> None:
        caller.permissions.grant(Access.DELETE, entity)
        existing = self.locate(caller, entity, key)
        if existing is None:
            raise DataverseError(errors.RECORD_NOT_FOUND, entity=entity.logical_name, id=self._key_description(key))
        caller.permissions.grant_on(Access.DELETE, entity, existing)
        if if_match is not None and if_match.strip() != "*" and if_match.strip() != etag(existing.get("versionnumber")):
            raise DataverseError(errors.VERSION_MISMATCH)
        with self._store.atomic():
            self._delete_with_cascades(caller, entity, [str(existing[entity.primary_id])], set())

    def _delete_with_cascades(
        self, caller: AuthorizedCaller, entity: EntityDefinition, record_ids: Sequence[str], seen: set[str]
    ) -> None:
        """Delete records after what their 1:N relationships' delete behaviour asks of the rows pointing at them:
        Restrict refuses, RemoveLink clears the lookup, Cascade deletes them (and their own dependants) — one query
        per relationship and level, in the caller's transaction."""
        org = caller.organization.id
        seen.update(record_id.lower() for record_id in record_ids)
        for relationship in caller.catalog.one_to_many(entity.logical_name):
            behaviour = (relationship.cascade or CascadeConfiguration()).delete
            child = caller.catalog.by_logical_name(relationship.referencing_entity)
            lookup = child.column(relationship.referencing_attribute) if child is not None else None
            if child is None or lookup is None or behaviour not in ("Cascade", "RemoveLink", "Restrict"):
                continue
            query = RecordQuery(within=(lookup.logical_name, frozenset(i.lower() for i in record_ids)))
            rows = [r for r in self._store.select(child, org, query) if str(r[child.primary_id]).lower() not in seen]
            if not rows:
                continue
            if behaviour == "Restrict":
                raise DataverseError(
                    errors.CANNOT_DELETE_DUE_TO_ASSOCIATION,
                    detail=f"{len(rows)} {child.logical_name} record(s) refer to it ({relationship.schema_name}).",
                )
            if behaviour == "RemoveLink":
                cleared = {lookup.logical_name: None}
                if len(lookup.targets) > 1:
                    cleared[lookup.type_column] = None
                for row in rows:
                    self._store.update(child, org, str(row[child.primary_id]), cleared)
                continue
            caller.permissions.grant(Access.DELETE, child)
            self._delete_with_cascades(caller, child, [str(r[child.primary_id]) for r in rows], seen)
        pointer = _pointer_of(caller.catalog, entity)
        for record_id in record_ids:
            self._store.delete(entity, org, record_id)
            if pointer is not None:
                self._store.delete(pointer, org, record_id)

    def atomic(self) -> AbstractContextManager[None]:
        """Record writes inside happen together or not at all."""
        return self._store.atomic()

    # -- helpers ------------------------------------------------------------------------------------------------
    def _bind_filter(
        self, caller: AuthorizedCaller, entity: EntityDefinition, options: QueryOptions
    ) -> BoundExpression | None:
        """The ``$filter`` bound to ``entity``: unknown names and mistyped literals fail here, before any read; the
        tables it reaches through navigations are read within the caller's Read depth too."""
        if options.filter is None:
            return None
        return bind_filter(
            options.filter, entity, caller.catalog, lambda table: caller.permissions.grant(Access.READ, table)
        )

    def _bindings(
        self,
        caller: AuthorizedCaller,
        entity: EntityDefinition,
        bindings: tuple[Binding, ...],
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if _appends(bindings):
            caller.permissions.grant(Access.APPEND, entity)
        for binding in bindings:
            lookup = entity.column(binding.lookup)
            assert lookup is not None
            target_name, target_id = binding.target, binding.record_id
            if not target_name and target_id is None and not binding.key:
                values[lookup.logical_name] = None  # an explicit null bind clears the lookup
                if len(lookup.targets) > 1:
                    values[lookup.type_column] = None
                continue
            target = caller.catalog.by_logical_name(target_name)
            if target is None or target.logical_name not in lookup.targets:
                raise DataverseError(
                    errors.INVALID_ARGUMENT, detail=f"The lookup '{lookup.logical_name}' cannot point at {target_name}."
                )
            is_owner = lookup.logical_name == "ownerid"  # an owner is assigned (checked by the caller), not appended
            if not is_owner:
                caller.permissions.grant(Access.APPEND_TO, target)
            if binding.key:
                found = self.locate(caller, target, Segment(target.entity_set_name, named=binding.key))
            else:
                found = self._store.fetch(target, caller.organization.id, str(target_id))
            if found is None:
                shown = target_id or ",".join(f"{k}={v}" for k, v in binding.key)
                raise DataverseError(errors.RECORD_NOT_FOUND, entity=target.logical_name, id=shown)
            if not is_owner:
                # AppendTo is checked on the record itself: a lookup may point only at rows its depth reaches.
                caller.permissions.grant_on(Access.APPEND_TO, target, found)
            values[lookup.logical_name] = found[target.primary_id]
            if len(lookup.targets) > 1:
                values[lookup.type_column] = target.logical_name
        return values

    def _check_application_id(
        self, caller: AuthorizedCaller, entity: EntityDefinition, values: Mapping[str, Any], record_id: str
    ) -> None:
        """One user per app registration in an org: a token's app id names exactly one user, so no write may give a
        second user (say, a System Administrator) the id of an app that already has one."""
        application_id = values.get("applicationid") if entity.logical_name == "systemuser" else None
        if application_id is None:
            return
        holder = self._store.fetch_by_key(entity, caller.organization.id, {"applicationid": application_id})
        if holder is not None and str(holder[entity.primary_id]).lower() != record_id.lower():
            raise DataverseError(errors.DUPLICATE_RECORD)

    def _check_new_owner(self, caller: AuthorizedCaller, entity: EntityDefinition, values: Mapping[str, Any]) -> None:
        """A record may be given only to an owner who can read it, as Dataverse checks on Assign. Teams hold no
        security roles in d365local, so none can own a record."""
        if self._security is None:
            return
        owner_id = str(values["ownerid"])
        read = privilege_name(Access.READ, entity.privilege_stem)
        if values.get("ownerid_type") == "team":
            raise DataverseError(
                errors.PRIVILEGE_DENIED,
                user_id=owner_id,
                role_count=0,
                privilege_count=0,
                privilege=read,
                privilege_id=privilege_id(read),
                otc=entity.object_type_code,
                entity=entity.logical_name,
            )
        owner = self._security.user(caller.organization.id, owner_id)
        if owner is None:
            raise DataverseError(errors.RECORD_NOT_FOUND, entity="systemuser", id=owner_id)
        roles = [r for r in self._security.roles(caller.organization.id) if r.id in owner.role_ids]
        Permissions.of(owner, roles).grant(Access.READ, entity)

    def _system_columns(
        self, entity: EntityDefinition, now: dt.datetime, user_id: str, *, creating: bool
    ) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        names = ("createdon", "modifiedon", "createdby", "modifiedby") if creating else ("modifiedon", "modifiedby")
        for name in names:
            if entity.column(name) is not None:
                columns[name] = now if name.endswith("on") else user_id
        if creating and entity.column("versionnumber") is not None:
            columns["versionnumber"] = 1
        return columns

    def _defaults(self, entity: EntityDefinition, values: dict[str, Any]) -> None:
        state = entity.column("statecode")
        if state is not None and values.get("statecode") is None:
            values["statecode"] = state.options[0].value if state.options else 0

    def _settle_state(
        self, entity: EntityDefinition, values: dict[str, Any], existing: Mapping[str, Any], record_id: str
    ) -> None:
        """Status reasons belong to states: a new state without a reason gets the state's default reason; a reason
        must belong to the record's (new or current) state — Dataverse's 0x80048408 otherwise."""
        state, status = entity.column("statecode"), entity.column("statuscode")
        if state is None or status is None or not status.options:
            return
        state_value = values.get("statecode", existing.get("statecode"))
        if values.get("statuscode") is None:
            if "statecode" not in values and existing:
                return
            chosen = state.option(int(state_value)) if state_value is not None else None
            default = chosen.default_status if chosen is not None else None
            in_state = [o.value for o in status.options if o.state is None or o.state == state_value]
            values["statuscode"] = default if default is not None else (in_state or [status.options[0].value])[0]
            return
        reason = status.option(int(values["statuscode"]))
        if reason is not None and reason.state is not None and state_value is not None and reason.state != state_value:
            current = state.option(int(state_value))
            name = current.invariant_name or current.label if current is not None else str(state_value)
            raise DataverseError(
                errors.INVALID_STATE_STATUS,
                status=values["statuscode"],
                state=f"{entity.schema_name}State.{name}",
                entity=entity.logical_name,
                id=record_id,
            )

    def _compose_name(self, entity: EntityDefinition, values: dict[str, Any], existing: Mapping[str, Any]) -> None:
        parts = _NAME_PARTS.get(entity.logical_name)
        if parts is None or not any(p in values for p in parts):
            return
        merged = [values.get(p, existing.get(p)) for p in parts]
        values[entity.primary_name] = " ".join(str(p) for p in merged if p) or None

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock.now(), dt.UTC).replace(tzinfo=None, microsecond=0)


def _pointer_of(catalog: Catalog, entity: EntityDefinition) -> EntityDefinition | None:
    """The ``activitypointer`` table an activity table's rows are mirrored to (None for other tables)."""
    if not entity.is_activity or entity.logical_name == "activitypointer":
        return None
    return catalog.by_logical_name("activitypointer")


_NOT_CREATABLE = {
    "activitypointer": " Create the activity in its own table (tasks, emails, phonecalls…).",
    "sdkmessage": " Its rows are the platform's messages.",
    "sdkmessagefilter": " Its rows follow the tables and the messages they take.",
}


def _refuse_creates(entity: EntityDefinition, message: str) -> None:
    """Tables whose rows the platform keeps (derived from other rows or from the catalog)."""
    hint = _NOT_CREATABLE.get(entity.logical_name)
    if hint is not None:
        raise DataverseError(
            errors.INVALID_ARGUMENT,
            detail=f"The '{message}' method does not support entities of type '{entity.logical_name}'.{hint}",
        )


def _appends(bindings: Sequence[Binding]) -> bool:
    """Whether binding these lookups appends the record to others (setting its owner assigns it instead)."""
    return any(binding.lookup != "ownerid" for binding in bindings)
