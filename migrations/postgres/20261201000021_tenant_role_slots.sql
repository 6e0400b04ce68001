-- Two login roles per tenant (slots `a` and `b`), so a password rotation never cuts off a pod.
--
-- A role has one password: setting a new one refuses the old at once, while the tenant's older
-- pods still hold it until its Deployment has rolled. `chemchat-server tenant role <id> --slot`
-- therefore gives the new password to the tenant's other role, the tenant's Secret gets that
-- role's URL, and once no pod of an older version is left the first role is retired
-- (`--retire`: NOLOGIN, its sessions ended). Both roles are recorded here, both pinned to the
-- tenant: `chemchat_role_tenant()` and the `tenant_role_pin` policies look a row up by its role
-- name, so they need no change; only one row per tenant is no longer the rule.
ALTER TABLE tenant_roles DROP CONSTRAINT tenant_roles_tenant_id_key;
CREATE INDEX tenant_roles_by_tenant ON tenant_roles (tenant_id);
