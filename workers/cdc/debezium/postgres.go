package debezium

// PostgresConnector is Debezium's PostgreSQL connector class.
const PostgresConnector = "io.debezium.connector.postgresql.PostgresConnector"

// PostgresKeys are the PostgreSQL connector's own keys (CommonKeys excluded), in
// documentation order.
var PostgresKeys = []Key{
	{Name: "database.hostname", Type: "STRING", Required: true, Doc: "The database server's host."},
	{Name: "database.password", Type: "PASSWORD", Password: true, Doc: "The connector's user's password."},
}

// PostgresConfig is a PostgreSQL connector's configuration.
type PostgresConfig struct {
	*Config
	Hostname string
}

// ParsePostgres reads a PostgreSQL connector's configuration; Errors lists every problem.
func ParsePostgres(m map[string]string) (*PostgresConfig, Errors) {
	p := &Parser{M: m}
	c := &PostgresConfig{Config: ParseCommon(p, TimeAdaptive, []string{TimeAdaptive, TimeAdaptiveMicroseconds, TimeConnect, TimeIsoString})}
	c.Hostname = p.Required("database.hostname")
	return c, p.Errs
}
