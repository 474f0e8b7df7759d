package debezium

// MySQLConnector is Debezium's MySQL connector class (MySQL and MariaDB).
const MySQLConnector = "io.debezium.connector.mysql.MySqlConnector"

// MySQLKeys are the MySQL connector's own keys (CommonKeys excluded), in documentation order.
var MySQLKeys = []Key{
	{Name: "database.hostname", Type: "STRING", Required: true, Doc: "The database server's host."},
	{Name: "database.password", Type: "PASSWORD", Password: true, Doc: "The connector's user's password."},
}

// MySQLConfig is a MySQL connector's configuration.
type MySQLConfig struct {
	*Config
	Hostname string
}

// ParseMySQL reads a MySQL connector's configuration; Errors lists every problem.
func ParseMySQL(m map[string]string) (*MySQLConfig, Errors) {
	p := &Parser{M: m}
	c := &MySQLConfig{Config: ParseCommon(p, TimeAdaptiveMicroseconds, []string{TimeAdaptiveMicroseconds, TimeConnect})}
	c.Hostname = p.Required("database.hostname")
	return c, p.Errs
}
