package policies

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"github.com/uptrace/bun"
)

// casbinRule is one row of casbin_rules: a rule's type (p, g) and up to six
// fields, unused ones ”.
type casbinRule struct {
	bun.BaseModel `bun:"table:casbin_rules"`

	ID    int64  `bun:"id,pk,autoincrement"`
	Ptype string `bun:"ptype"`
	V0    string `bun:"v0"`
	V1    string `bun:"v1"`
	V2    string `bun:"v2"`
	V3    string `bun:"v3"`
	V4    string `bun:"v4"`
	V5    string `bun:"v5"`
}

func newRule(ptype string, fields []string) (casbinRule, error) {
	if len(fields) > 6 {
		return casbinRule{}, fmt.Errorf("casbin rule %s %v has more than 6 fields", ptype, fields)
	}
	var v [6]string
	copy(v[:], fields)
	return casbinRule{Ptype: ptype, V0: v[0], V1: v[1], V2: v[2], V3: v[3], V4: v[4], V5: v[5]}, nil
}

// fields is the rule without its trailing empty fields.
func (r casbinRule) fields() []string {
	v := []string{r.V0, r.V1, r.V2, r.V3, r.V4, r.V5}
	for len(v) > 0 && v[len(v)-1] == "" {
		v = v[:len(v)-1]
	}
	return v
}

// where restricts q to rows whose fields from index from on equal values;
// empty values match anything (casbin's filter convention).
func where(q *bun.DeleteQuery, ptype string, from int, values []string) *bun.DeleteQuery {
	q = q.Where("ptype = ?", ptype)
	for i, v := range values {
		if v != "" {
			q = q.Where("? = ?", bun.Ident(fmt.Sprintf("v%d", from+i)), v)
		}
	}
	return q
}

// Adapter stores Casbin's policy in the casbin_rules table. It implements
// persist.Adapter and persist.BatchAdapter; every write is one transaction, and
// the table's trigger notifies the other instances.
type Adapter struct {
	db bun.IDB
}

var (
	_ persist.Adapter      = (*Adapter)(nil)
	_ persist.BatchAdapter = (*Adapter)(nil)
)

// NewAdapter returns an adapter over db.
func NewAdapter(db bun.IDB) *Adapter { return &Adapter{db: db} }

// bg is the context of Casbin's calls, whose interface carries none.
func bg() context.Context { return context.Background() }

// LoadPolicy loads every rule into m. It scans columns directly (no
// reflection) and adds rules without Casbin's duplicate check, which the
// table's unique constraint makes needless: at national size (120,000 rules)
// this halves the load.
func (a *Adapter) LoadPolicy(m model.Model) error {
	rows, err := a.db.QueryContext(bg(), "SELECT id, ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rules ORDER BY id")
	if err != nil {
		return fmt.Errorf("loading casbin_rules: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r casbinRule
		if err := rows.Scan(&r.ID, &r.Ptype, &r.V0, &r.V1, &r.V2, &r.V3, &r.V4, &r.V5); err != nil {
			return fmt.Errorf("loading casbin_rules: %w", err)
		}
		if r.Ptype == "" {
			return fmt.Errorf("casbin rule %d has no ptype", r.ID)
		}
		sec := r.Ptype[:1]
		if _, ok := m[sec][r.Ptype]; !ok {
			return fmt.Errorf("casbin rule %s %v: the model has no %s", r.Ptype, r.fields(), r.Ptype)
		}
		if err := m.AddPolicy(sec, r.Ptype, r.fields()); err != nil {
			return fmt.Errorf("casbin rule %s %v: %w", r.Ptype, r.fields(), err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("loading casbin_rules: %w", err)
	}
	return nil
}

// SavePolicy replaces every stored rule with m's.
func (a *Adapter) SavePolicy(m model.Model) error {
	var rows []casbinRule
	for _, sec := range []string{"p", "g"} {
		for ptype, ast := range m[sec] {
			for _, rule := range ast.Policy {
				r, err := newRule(ptype, rule)
				if err != nil {
					return err
				}
				rows = append(rows, r)
			}
		}
	}
	return a.db.RunInTx(bg(), &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*casbinRule)(nil)).Where("true").Exec(ctx); err != nil {
			return err
		}
		return insert(ctx, tx, rows)
	})
}

// insert adds rows, skipping those already stored, in batches (PostgreSQL
// takes at most 65535 parameters in one statement).
func insert(ctx context.Context, db bun.IDB, rows []casbinRule) error {
	const batch = 5000
	for len(rows) > 0 {
		n := min(batch, len(rows))
		chunk := rows[:n]
		rows = rows[n:]
		if _, err := db.NewInsert().Model(&chunk).ExcludeColumn("id").Returning("NULL").
			On("CONFLICT (ptype, v0, v1, v2, v3, v4, v5) DO NOTHING").Exec(ctx); err != nil {
			return fmt.Errorf("storing casbin rules: %w", err)
		}
	}
	return nil
}

// AddPolicy stores one rule (AutoSave).
func (a *Adapter) AddPolicy(sec, ptype string, rule []string) error {
	return a.AddPolicies(sec, ptype, [][]string{rule})
}

// AddPolicies stores rules in one transaction (AutoSave).
func (a *Adapter) AddPolicies(sec, ptype string, rules [][]string) error {
	rows := make([]casbinRule, 0, len(rules))
	for _, rule := range rules {
		r, err := newRule(ptype, rule)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	return a.db.RunInTx(bg(), &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		return insert(ctx, tx, rows)
	})
}

// RemovePolicy deletes one rule (AutoSave).
func (a *Adapter) RemovePolicy(sec, ptype string, rule []string) error {
	return a.RemovePolicies(sec, ptype, [][]string{rule})
}

// RemovePolicies deletes rules in one transaction (AutoSave).
func (a *Adapter) RemovePolicies(sec, ptype string, rules [][]string) error {
	return a.db.RunInTx(bg(), &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		for _, rule := range rules {
			r, err := newRule(ptype, rule)
			if err != nil {
				return err
			}
			// Every field, empty ones too: exactly this rule.
			if _, err := tx.NewDelete().Model((*casbinRule)(nil)).
				Where("ptype = ? AND v0 = ? AND v1 = ? AND v2 = ? AND v3 = ? AND v4 = ? AND v5 = ?",
					r.Ptype, r.V0, r.V1, r.V2, r.V3, r.V4, r.V5).Exec(ctx); err != nil {
				return fmt.Errorf("removing casbin rule %s %s: %w", ptype, strings.Join(rule, ", "), err)
			}
		}
		return nil
	})
}

// RemoveFilteredPolicy deletes the rules whose fields from fieldIndex on equal
// fieldValues; an empty value matches any (AutoSave).
func (a *Adapter) RemoveFilteredPolicy(sec, ptype string, fieldIndex int, fieldValues ...string) error {
	if fieldIndex < 0 || fieldIndex+len(fieldValues) > 6 {
		return fmt.Errorf("casbin filter: field %d + %d values is out of range", fieldIndex, len(fieldValues))
	}
	_, err := where(a.db.NewDelete().Model((*casbinRule)(nil)), ptype, fieldIndex, fieldValues).Exec(bg())
	return err
}
