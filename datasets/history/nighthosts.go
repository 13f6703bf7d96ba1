package history

import (
	"context"
	"database/sql"
	"fmt"
)

// NightHosts returns what the night keyed night said of each of its
// hosts, by address; an error wrapping ErrNoRun when no night has the key.
// Commands that group flows by what a night found (lifespans by host
// cluster) read it.
func (d *DB) NightHosts(ctx context.Context, night string) ([]Host, error) {
	var out []Host
	err := d.readTx(ctx, func(tx *sql.Tx) error {
		var run int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM runs WHERE night = ?`, night).Scan(&run); err != nil {
			if err == sql.ErrNoRows {
				return fmt.Errorf("%s: %w", night, ErrNoRun)
			}
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+hostColumns+` FROM hosts h WHERE h.run = ? ORDER BY h.addr`, run)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			h, err := scanHost(rows)
			if err != nil {
				return err
			}
			out = append(out, h)
		}
		return rows.Err()
	})
	return out, err
}
