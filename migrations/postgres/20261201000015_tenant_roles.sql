-- A PostgreSQL role per tenant, pinned to that tenant by row-level security.
--
-- The policies so far compare each row's tenant with `chemchat.tenant_id`, which the server
-- sets itself: a role that connects with the platform's URL can set it to any tenant, and the
-- workers' policies (`outbox_relay`, `media_worker`, `eraser`) span every tenant by design. A
-- tenant's servers therefore connect as a role of their own (`chemchat-server tenant role <id>`
-- creates it and records it here), and one restrictive policy on every table ANDs every other
-- policy with "the row belongs to the tenant of the session's login role". The platform role has
-- no tenant and keeps working as before.

CREATE TABLE tenant_roles (
    role_name  TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL UNIQUE
);
-- Not even its own row is readable by a tenant role: the function below reads it for them.
REVOKE ALL ON tenant_roles FROM PUBLIC;

-- The tenant the session's login role is pinned to: NULL for any other role (the platform's),
-- and '' — which no row carries — for a role named like a tenant role but recorded for no
-- tenant, so a mistake fails closed. `session_user`, not `current_user`: SET ROLE cannot change
-- it. SECURITY DEFINER to read `tenant_roles`; the schema is written into the body and the
-- search path, with pg_temp last, so a temporary table of the caller cannot stand in for it.
DO $migration$
BEGIN
    EXECUTE format($fn$
        CREATE FUNCTION %1$I.chemchat_role_tenant() RETURNS TEXT
            LANGUAGE sql STABLE SECURITY DEFINER
            SET search_path = %1$I, pg_temp
        AS $body$
            SELECT CASE
                WHEN starts_with(session_user::text, 'chemchat_tenant_') THEN
                    coalesce((SELECT r.tenant_id FROM %1$I.tenant_roles r
                              WHERE r.role_name = session_user::text), '')
            END
        $body$
    $fn$, current_schema());
END
$migration$;

-- Restrictive: ANDed with whichever permissive policy admits the row (tenant_isolation or a
-- worker's). `(SELECT …)` makes the function an InitPlan, run once per statement, not per row.
DO $migration$
DECLARE
    t TEXT;
    col TEXT;
BEGIN
    FOR t IN
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace
          AND c.relkind = 'r' AND c.relrowsecurity
    LOOP
        col := CASE WHEN t = 'tenants' THEN 'id' ELSE 'tenant_id' END;
        EXECUTE format(
            'CREATE POLICY tenant_role_pin ON %1$I AS RESTRICTIVE '
            'USING (%2$I = coalesce((SELECT chemchat_role_tenant()), %2$I)) '
            'WITH CHECK (%2$I = coalesce((SELECT chemchat_role_tenant()), %2$I))', t, col);
    END LOOP;
END
$migration$;
