package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a Kafka cluster of the registry: what an amazonMskCluster ARN resolves to.
type Cluster struct {
	ARN       string
	AccountID string
	Region    string
	Name      string
	// BootstrapServers is the plaintext bootstrap string ("" when the cluster has none).
	BootstrapServers string
	// BootstrapServersTLS, BootstrapServersSaslScram and BootstrapServersSaslIam are the
	// bootstrap strings of TLS, SASL/SCRAM and SASL/IAM client authentication, as MSK's
	// GetBootstrapBrokers returns them ("" when the cluster does not offer it).
	BootstrapServersTLS       string
	BootstrapServersSaslScram string
	BootstrapServersSaslIam   string
	// TLSRootCA is the PEM of the CA of the brokers' certificates ("" for the system's roots).
	TLSRootCA    string
	KafkaVersion string
	CreatedAt    time.Time
}

const clusterCols = `arn, account_id, region, name, bootstrap_servers, kafka_version, created_at,
	bootstrap_servers_tls, bootstrap_servers_sasl_scram, bootstrap_servers_sasl_iam, tls_root_ca`

func scanCluster(row pgx.Row) (*Cluster, error) {
	var c Cluster
	if err := row.Scan(&c.ARN, &c.AccountID, &c.Region, &c.Name, &c.BootstrapServers, &c.KafkaVersion, &c.CreatedAt,
		&c.BootstrapServersTLS, &c.BootstrapServersSaslScram, &c.BootstrapServersSaslIam, &c.TLSRootCA); err != nil {
		return nil, interpret(err)
	}
	return &c, nil
}

// ClusterRegister inserts a cluster, or updates the bootstrap strings, CA and version of the
// cluster of that name in that account and region (keeping its ARN). It returns the stored row.
func (s *Store) ClusterRegister(ctx context.Context, c *Cluster) (*Cluster, error) {
	return scanCluster(s.pool.QueryRow(ctx, `INSERT INTO clusters (`+clusterCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
		ON CONFLICT (account_id, region, name) DO UPDATE
		SET bootstrap_servers = EXCLUDED.bootstrap_servers, kafka_version = EXCLUDED.kafka_version,
			bootstrap_servers_tls = EXCLUDED.bootstrap_servers_tls, bootstrap_servers_sasl_scram = EXCLUDED.bootstrap_servers_sasl_scram,
			bootstrap_servers_sasl_iam = EXCLUDED.bootstrap_servers_sasl_iam, tls_root_ca = EXCLUDED.tls_root_ca
		RETURNING `+clusterCols,
		c.ARN, c.AccountID, c.Region, c.Name, c.BootstrapServers, c.KafkaVersion, time.Now().UTC().Truncate(time.Microsecond),
		c.BootstrapServersTLS, c.BootstrapServersSaslScram, c.BootstrapServersSaslIam, c.TLSRootCA))
}

// Cluster returns a registered cluster of the caller's account and region.
func (s *Store) Cluster(ctx context.Context, account, region, arn string) (*Cluster, error) {
	c, err := scanCluster(s.pool.QueryRow(ctx, `SELECT `+clusterCols+` FROM clusters WHERE arn = $1`, arn))
	if err != nil {
		return nil, err
	}
	if c.AccountID != account || c.Region != region {
		return nil, ErrNotFound
	}
	return c, nil
}

// Clusters lists registered clusters by name, after a name, filtered by a name prefix (as
// ListClustersV2's clusterNameFilter: "the clusters whose names start with this prefix").
func (s *Store) Clusters(ctx context.Context, account, region, namePrefix, afterName string, limit int) ([]*Cluster, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+clusterCols+` FROM clusters
		WHERE account_id = $1 AND region = $2 AND name LIKE $3 AND name > $4 ORDER BY name LIMIT $5`,
		account, region, escapeLike(namePrefix)+"%", afterName, limit)
	if err != nil {
		return nil, interpret(err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Cluster, error) { return scanCluster(row) })
}

// ClusterRemove removes a cluster from the registry.
func (s *Store) ClusterRemove(ctx context.Context, account, region, arn string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM clusters WHERE arn = $1 AND account_id = $2 AND region = $3`, arn, account, region)
	if err != nil {
		return interpret(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
