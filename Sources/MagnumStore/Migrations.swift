/// The SQL dialect a store speaks.
public enum SQLStoreDialect: String, Sendable, Hashable {
    /// Embedded SQLite (one connection, one writer).
    case sqlite
    /// PostgreSQL (pooled connections, advisory locks).
    case postgres
}

/// Column types that differ between the dialects. The logical schema is the same.
///
/// SQLite stores timestamps as Unix seconds in INTEGER columns and booleans as 0/1; PostgreSQL
/// uses TIMESTAMPTZ and BOOLEAN. Maps and lists are JSON text in both.
struct ColumnTypes {
    /// An auto-incrementing 64-bit primary key.
    let primaryKey: String
    /// A point in time.
    let timestamp: String
    /// A boolean.
    let bool: String
    /// A 64-bit integer.
    let int: String

    init(_ dialect: SQLStoreDialect) {
        switch dialect {
        case .sqlite:
            primaryKey = "INTEGER PRIMARY KEY AUTOINCREMENT"
            timestamp = "INTEGER"
            bool = "INTEGER"
            int = "INTEGER"
        case .postgres:
            primaryKey = "BIGSERIAL PRIMARY KEY"
            timestamp = "TIMESTAMPTZ"
            bool = "BOOLEAN"
            int = "BIGINT"
        }
    }
}

/// One step of the schema's history. Steps are applied in version order, each in its own
/// transaction, and recorded in `schema_version`.
struct Migration: Sendable {
    /// The version this step brings the schema to.
    let version: Int
    /// A short description.
    let name: String
    /// The DDL statements of the step for a dialect.
    let statements: @Sendable (SQLStoreDialect) -> [String]
}

enum Migrations {
    /// Key of the PostgreSQL advisory lock that serializes concurrent migrators ("magnum").
    static let advisoryLockKey: Int64 = 0x6D61_676E_756D

    /// The table that records applied versions.
    static func schemaVersionTable(_ dialect: SQLStoreDialect) -> String {
        let t = ColumnTypes(dialect)
        return """
            CREATE TABLE IF NOT EXISTS schema_version (
                version \(t.int) PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at \(t.timestamp) NOT NULL
            )
            """
    }

    /// Every migration, oldest first. Versions may have gaps (branches number their steps
    /// independently); the runner applies every unrecorded step in ascending version order.
    static let all: [Migration] = [
        Migration(version: 1, name: "initial schema", statements: initialSchema),
        Migration(version: 2, name: "built-in identity", statements: identitySchema),
        Migration(version: 3, name: "cluster certificates", statements: certificateSchema),
        Migration(version: 4, name: "operation retry backoff", statements: operationBackoffSchema),
        Migration(version: 5, name: "cluster events", statements: clusterEventSchema),
        Migration(version: 6, name: "idempotency keys", statements: idempotencySchema),
        Migration(version: 7, name: "cluster driver state", statements: clusterDriverStateSchema),
    ]

    /// Version 7: what a driver keeps about a cluster between steps and across conductors
    /// (`cluster_driver_state`: e.g. the Heat driver's stack IDs, trust and trustee), one row
    /// per key, written by the driver the moment it learns the value; removed with the cluster.
    @Sendable
    static func clusterDriverStateSchema(_ dialect: SQLStoreDialect) -> [String] {
        let t = ColumnTypes(dialect)
        return [
            """
            CREATE TABLE cluster_driver_state (
                cluster_uuid TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                updated_at \(t.timestamp) NOT NULL,
                PRIMARY KEY (cluster_uuid, key)
            )
            """,
        ]
    }

    /// Version 5: every cluster's history (`cluster_event`), appended in the transactions that
    /// make the changes; `id` is the monotonic cursor of the events endpoint and stream. Rows
    /// outlive their cluster and are purged by age.
    @Sendable
    static func clusterEventSchema(_ dialect: SQLStoreDialect) -> [String] {
        let t = ColumnTypes(dialect)
        return [
            """
            CREATE TABLE cluster_event (
                id \(t.primaryKey),
                uuid TEXT NOT NULL,
                cluster_uuid TEXT NOT NULL,
                project_id TEXT,
                operation_uuid TEXT,
                kind TEXT NOT NULL,
                status TEXT,
                status_reason TEXT,
                detail TEXT NOT NULL,
                request_id TEXT,
                created_at \(t.timestamp) NOT NULL,
                CONSTRAINT uniq_cluster_event0uuid UNIQUE (uuid)
            )
            """,
            "CREATE INDEX cluster_event_cluster_idx ON cluster_event (cluster_uuid, id)",
            "CREATE INDEX cluster_event_created_idx ON cluster_event (created_at)",
        ]
    }

    /// Version 4: `operation.not_before`, the earliest instant a pending operation may be leased
    /// again (exponential backoff after a transient failure).
    @Sendable
    static func operationBackoffSchema(_ dialect: SQLStoreDialect) -> [String] {
        let t = ColumnTypes(dialect)
        return [
            "ALTER TABLE operation ADD COLUMN not_before \(t.timestamp)",
        ]
    }

    /// Version 3: each cluster's CAs and Magnum's client certificate, one row per kind, the
    /// private key sealed (AES-GCM, base64) under the key-encryption key.
    @Sendable
    static func certificateSchema(_ dialect: SQLStoreDialect) -> [String] {
        let t = ColumnTypes(dialect)
        return [
            """
            CREATE TABLE cluster_certificate (
                cluster_uuid TEXT NOT NULL,
                kind TEXT NOT NULL,
                certificate TEXT NOT NULL,
                sealed_private_key TEXT NOT NULL,
                created_at \(t.timestamp),
                PRIMARY KEY (cluster_uuid, kind)
            )
            """,
        ]
    }

    /// Version 2: the built-in identity's projects, users, roles, role assignments, revoked
    /// tokens and token signing secret. Assignment targets are a project id or `::system::`;
    /// instants the identity compares (token revocation) are Unix microseconds/seconds integers.
    @Sendable
    static func identitySchema(_ dialect: SQLStoreDialect) -> [String] {
        let t = ColumnTypes(dialect)
        return [
            """
            CREATE TABLE identity_project (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                domain_id TEXT NOT NULL,
                description TEXT,
                enabled \(t.bool) NOT NULL DEFAULT TRUE,
                tags TEXT,
                created_at \(t.timestamp),
                CONSTRAINT uniq_identity_project0domain_id0name UNIQUE (domain_id, name)
            )
            """,
            """
            CREATE TABLE identity_user (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                domain_id TEXT NOT NULL,
                enabled \(t.bool) NOT NULL DEFAULT TRUE,
                password_hash TEXT,
                default_project_id TEXT,
                extra TEXT,
                tokens_valid_after \(t.int),
                created_at \(t.timestamp),
                CONSTRAINT uniq_identity_user0domain_id0name UNIQUE (domain_id, name)
            )
            """,
            """
            CREATE TABLE identity_role (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                description TEXT,
                CONSTRAINT uniq_identity_role0name UNIQUE (name)
            )
            """,
            """
            CREATE TABLE identity_role_assignment (
                user_id TEXT NOT NULL,
                target_id TEXT NOT NULL,
                role_id TEXT NOT NULL,
                PRIMARY KEY (user_id, target_id, role_id)
            )
            """,
            "CREATE INDEX identity_role_assignment_target_idx ON identity_role_assignment (target_id)",
            """
            CREATE TABLE identity_revoked_token (
                audit_id TEXT PRIMARY KEY,
                expires_at \(t.int) NOT NULL
            )
            """,
            """
            CREATE TABLE identity_signing_key (
                id \(t.int) PRIMARY KEY,
                secret TEXT NOT NULL,
                created_at \(t.timestamp)
            )
            """,
        ]
    }

    /// Version 1: upstream Magnum's tables (contract appendix B, without the trust columns and
    /// `x509keypair`), the `operation` table, and the local catalog.
    @Sendable
    static func initialSchema(_ dialect: SQLStoreDialect) -> [String] {
        let t = ColumnTypes(dialect)
        return [
            """
            CREATE TABLE cluster_template (
                id \(t.primaryKey),
                uuid TEXT NOT NULL,
                project_id TEXT,
                user_id TEXT,
                name TEXT,
                image_id TEXT,
                flavor_id TEXT,
                master_flavor_id TEXT,
                keypair_id TEXT,
                external_network_id TEXT,
                fixed_network TEXT,
                fixed_subnet TEXT,
                network_driver TEXT,
                volume_driver TEXT,
                dns_nameserver TEXT,
                apiserver_port \(t.int),
                docker_volume_size \(t.int),
                docker_storage_driver TEXT,
                cluster_distro TEXT,
                coe TEXT NOT NULL,
                http_proxy TEXT,
                https_proxy TEXT,
                no_proxy TEXT,
                registry_enabled \(t.bool) NOT NULL DEFAULT FALSE,
                labels TEXT,
                tls_disabled \(t.bool) NOT NULL DEFAULT FALSE,
                "public" \(t.bool) NOT NULL DEFAULT FALSE,
                server_type TEXT,
                insecure_registry TEXT,
                master_lb_enabled \(t.bool) NOT NULL DEFAULT FALSE,
                floating_ip_enabled \(t.bool) NOT NULL DEFAULT TRUE,
                hidden \(t.bool) NOT NULL DEFAULT FALSE,
                tags TEXT,
                driver TEXT,
                created_at \(t.timestamp),
                updated_at \(t.timestamp),
                CONSTRAINT uniq_cluster_template0uuid UNIQUE (uuid)
            )
            """,
            "CREATE INDEX cluster_template_project_id_idx ON cluster_template (project_id)",
            """
            CREATE TABLE cluster (
                id \(t.primaryKey),
                uuid TEXT NOT NULL,
                name TEXT,
                project_id TEXT,
                user_id TEXT,
                cluster_template_id TEXT NOT NULL,
                keypair TEXT,
                docker_volume_size \(t.int),
                labels TEXT,
                master_flavor_id TEXT,
                flavor_id TEXT,
                stack_id TEXT,
                api_address TEXT,
                status TEXT,
                status_reason TEXT,
                health_status TEXT,
                health_status_reason TEXT,
                create_timeout \(t.int),
                discovery_url TEXT,
                coe_version TEXT,
                container_version TEXT,
                ca_cert_ref TEXT,
                magnum_cert_ref TEXT,
                etcd_ca_cert_ref TEXT,
                front_proxy_ca_cert_ref TEXT,
                fixed_network TEXT,
                fixed_subnet TEXT,
                floating_ip_enabled \(t.bool) NOT NULL DEFAULT TRUE,
                master_lb_enabled \(t.bool) NOT NULL DEFAULT FALSE,
                created_at \(t.timestamp),
                updated_at \(t.timestamp),
                CONSTRAINT uniq_cluster0uuid UNIQUE (uuid)
            )
            """,
            "CREATE INDEX cluster_project_id_idx ON cluster (project_id)",
            "CREATE INDEX cluster_cluster_template_id_idx ON cluster (cluster_template_id)",
            """
            CREATE TABLE nodegroup (
                id \(t.primaryKey),
                uuid TEXT NOT NULL,
                name TEXT,
                cluster_id TEXT NOT NULL,
                project_id TEXT,
                docker_volume_size \(t.int),
                labels TEXT,
                flavor_id TEXT,
                image_id TEXT,
                node_addresses TEXT,
                node_count \(t.int) NOT NULL,
                role TEXT NOT NULL,
                max_node_count \(t.int),
                min_node_count \(t.int) NOT NULL DEFAULT 0,
                is_default \(t.bool) NOT NULL DEFAULT FALSE,
                stack_id TEXT,
                status TEXT,
                status_reason TEXT,
                version TEXT,
                node_labels TEXT,
                node_taints TEXT,
                created_at \(t.timestamp),
                updated_at \(t.timestamp),
                CONSTRAINT uniq_nodegroup0uuid UNIQUE (uuid),
                CONSTRAINT uniq_nodegroup0cluster_id0name UNIQUE (cluster_id, name)
            )
            """,
            """
            CREATE TABLE quotas (
                id \(t.primaryKey),
                project_id TEXT NOT NULL,
                resource TEXT NOT NULL,
                hard_limit \(t.int) NOT NULL,
                created_at \(t.timestamp),
                updated_at \(t.timestamp),
                CONSTRAINT uniq_quotas0project_id0resource UNIQUE (project_id, resource)
            )
            """,
            """
            CREATE TABLE magnum_service (
                id \(t.primaryKey),
                host TEXT,
                "binary" TEXT NOT NULL,
                disabled \(t.bool) NOT NULL DEFAULT FALSE,
                disabled_reason TEXT,
                last_seen_up \(t.timestamp),
                forced_down \(t.bool) NOT NULL DEFAULT FALSE,
                report_count \(t.int) NOT NULL DEFAULT 0,
                created_at \(t.timestamp),
                updated_at \(t.timestamp)
            )
            """,
            // A NULL host is a key like any other: (NULL, "magnum-conductor") is one record.
            """
            CREATE UNIQUE INDEX uniq_magnum_service0host0binary
                ON magnum_service ((COALESCE(host, '')), "binary")
            """,
            """
            CREATE TABLE federation (
                id \(t.primaryKey),
                project_id TEXT,
                uuid TEXT NOT NULL,
                name TEXT,
                hostcluster_id TEXT,
                member_ids TEXT,
                status TEXT,
                status_reason TEXT,
                properties TEXT,
                created_at \(t.timestamp),
                updated_at \(t.timestamp),
                CONSTRAINT uniq_federation0uuid UNIQUE (uuid)
            )
            """,
            """
            CREATE TABLE operation (
                id \(t.primaryKey),
                uuid TEXT NOT NULL,
                kind TEXT NOT NULL,
                resource_uuid TEXT NOT NULL,
                nodegroup_uuid TEXT,
                parameters TEXT NOT NULL,
                state TEXT NOT NULL,
                project_id TEXT,
                user_id TEXT,
                request_id TEXT,
                lease_owner TEXT,
                lease_expires_at \(t.timestamp),
                attempts \(t.int) NOT NULL DEFAULT 0,
                last_error TEXT,
                created_at \(t.timestamp),
                updated_at \(t.timestamp),
                CONSTRAINT uniq_operation0uuid UNIQUE (uuid)
            )
            """,
            "CREATE INDEX operation_state_lease_idx ON operation (state, lease_expires_at)",
            "CREATE INDEX operation_resource_uuid_idx ON operation (resource_uuid)",
            """
            CREATE TABLE flavor (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                vcpus \(t.int) NOT NULL,
                ram_mb \(t.int) NOT NULL,
                disk_gb \(t.int) NOT NULL
            )
            """,
            """
            CREATE TABLE image (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                os_distro TEXT,
                magnum_driver TEXT
            )
            """,
            """
            CREATE TABLE network (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                is_external \(t.bool) NOT NULL DEFAULT FALSE
            )
            """,
            """
            CREATE TABLE subnet (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                network_id TEXT NOT NULL,
                cidr TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE keypair (
                name TEXT NOT NULL,
                user_id TEXT NOT NULL,
                public_key TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                created_at \(t.timestamp),
                PRIMARY KEY (user_id, name)
            )
            """,
        ]
    }
}
