// Package chain is kportal's tamper evidence: every signature of an activity
// and every decision on a goal is a link in its LIS's chain (record_chain,
// one chain per LIS across tenants). A link hashes the signed content (the
// row's decision and its frozen snapshot or basis, canonicalised by
// PostgreSQL's jsonb), the link before it and its own place; the dossier
// prints the head's code and /verifiser/<code> recomputes the whole chain.
package chain

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Kinds of link.
const (
	KindSignature = "signature"
	KindGoal      = "goal"
)

// CodeLen is how many hex digits of a link's hash make its code.
const CodeLen = 16

// content is what each kind of link hashes, read from its row: who and when,
// the decision and what was decided on. jsonb's text form is canonical (keys
// ordered, no insignificant space), and times are microseconds since the
// epoch, so the same row always gives the same text. The goal's version_id is
// left out: a catalogue update moves it without a new decision.
var content = map[string]string{
	KindSignature: `SELECT a.lis_id, s.tenant_id, s.id, s.signed_at AS at, NULL AS status,
		jsonb_build_object('tenant_id', s.tenant_id, 'id', s.id, 'activity_id', s.activity_id,
			'supervisor_id', s.supervisor_id, 'decision', s.decision, 'comment', s.comment,
			'signed_at', (extract(epoch FROM s.signed_at) * 1000000)::bigint, 'snapshot', s.snapshot)::text AS content
		FROM signatures s JOIN activities a ON a.tenant_id = s.tenant_id AND a.id = s.activity_id`,
	KindGoal: `SELECT gp.lis_id, gp.tenant_id, gp.id, gp.decided_at AS at, gp.status,
		jsonb_build_object('tenant_id', gp.tenant_id, 'id', gp.id, 'lis_id', gp.lis_id, 'goal_code', gp.goal_code,
			'prior_learning', gp.prior_learning, 'outcome', gp.status, 'decided_by', gp.decided_by,
			'decided_at', (extract(epoch FROM gp.decided_at) * 1000000)::bigint, 'note', gp.decision_note,
			'basis', gp.basis)::text AS content
		FROM goal_progress gp`,
}

type row struct {
	LisID    uuid.UUID  `bun:"lis_id"`
	TenantID uuid.UUID  `bun:"tenant_id"`
	ID       uuid.UUID  `bun:"id"`
	At       *time.Time `bun:"at"`
	Status   *string    `bun:"status"`
	Content  string     `bun:"content"`
}

// Link is one link of a chain.
type Link struct {
	LisID       uuid.UUID `bun:"lis_id"`
	Seq         int64     `bun:"seq"`
	Kind        string    `bun:"kind"`
	TenantID    uuid.UUID `bun:"tenant_id"`
	RefID       uuid.UUID `bun:"ref_id"`
	ContentHash string    `bun:"content_hash"`
	PrevHash    string    `bun:"prev_hash"`
	Hash        string    `bun:"hash"`
	At          time.Time `bun:"at"`
}

// Code is the link's short code, as printed: four groups of four.
func (l *Link) Code() string {
	c := strings.ToUpper(l.Hash[:CodeLen])
	return c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
}

func (l *Link) sum() string {
	return hashOf(strings.Join([]string{l.PrevHash, strconv.FormatInt(l.Seq, 10), l.Kind, l.TenantID.String(),
		l.RefID.String(), l.ContentHash, strconv.FormatInt(l.At.UnixMicro(), 10)}, "\n"))
}

func hashOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// Append links the decision just written (a signature, or a goal_progress
// row's decision) to its LIS's chain. Call it in the decision's transaction,
// with its tenant in force, once the row holds the decision. A lock per LIS
// makes concurrent decisions for one LIS wait for each other, so the chain
// never forks (the primary key (lis_id, seq) would refuse a fork anyway).
func Append(ctx context.Context, tx bun.IDB, kind string, tenantID, refID uuid.UUID) error {
	var rows []row
	if err := tx.NewRaw(content[kind]+` WHERE `+alias(kind)+`.tenant_id = ? AND `+alias(kind)+`.id = ?`, tenantID, refID).Scan(ctx, &rows); err != nil {
		return err
	}
	if len(rows) != 1 || rows[0].At == nil {
		return errors.New("chain: no decided " + kind + " " + refID.String())
	}
	r := rows[0]
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('record_chain'), hashtext(?::text)), set_config('app.chain_lis', ?::text, true)`,
		r.LisID, r.LisID); err != nil {
		return err
	}
	var heads []Link
	if err := tx.NewRaw(`SELECT seq, hash FROM record_chain WHERE lis_id = ? ORDER BY seq DESC LIMIT 1`, r.LisID).Scan(ctx, &heads); err != nil {
		return err
	}
	l := Link{LisID: r.LisID, Seq: 1, Kind: kind, TenantID: tenantID, RefID: refID, ContentHash: hashOf(r.Content), At: r.At.UTC().Truncate(time.Microsecond)}
	if len(heads) == 1 {
		l.Seq, l.PrevHash = heads[0].Seq+1, heads[0].Hash
	}
	l.Hash = l.sum()
	// The chain_of reads end here: the rest of the decision's transaction
	// sees only its tenant's links.
	if _, err := tx.ExecContext(ctx, `INSERT INTO record_chain (lis_id, seq, kind, tenant_id, ref_id, content_hash, prev_hash, hash, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, l.LisID, l.Seq, l.Kind, l.TenantID, l.RefID, l.ContentHash, l.PrevHash, l.Hash, l.At); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `SELECT set_config('app.chain_lis', '', true)`)
	return err
}

func alias(kind string) string {
	if kind == KindSignature {
		return "s"
	}
	return "gp"
}

// Head is the newest link of the LIS's chain, nil if there is none. tx is a
// tenants.OwnRecordTx of that LIS.
func Head(ctx context.Context, tx bun.IDB, lisID uuid.UUID) (*Link, error) {
	var ls []Link
	err := tx.NewRaw(`SELECT * FROM record_chain WHERE lis_id = ? ORDER BY seq DESC LIMIT 1`, lisID).Scan(ctx, &ls)
	if err != nil || len(ls) == 0 {
		return nil, err
	}
	return &ls[0], nil
}

// Result is what the verification page may say: whether the chain holding
// the code is whole, and the date of the link the code names.
type Result struct {
	Valid bool
	At    time.Time
}

// ParseCode reads a code as printed (groups, dashes, any case); ok is false
// for anything that is not CodeLen hex digits.
func ParseCode(s string) (string, bool) {
	s = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(strings.TrimSpace(s)))
	if len(s) != CodeLen {
		return "", false
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", false
	}
	return s, true
}

// Verify finds the link with the code (from ParseCode) and checks the whole
// chain it belongs to: every link's hash from its fields and the link before
// it, and every content hash against the row it was made of where that row
// still holds the decision. nil, nil: no link has that code.
func Verify(ctx context.Context, db bun.IDB, code string) (*Result, error) {
	var res *Result
	err := db.RunInTx(ctx, &sql.TxOptions{ReadOnly: true}, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT set_config('app.tenant_id', '', true), set_config('app.person_id', '', true), set_config('app.chain_code', ?, true)`, code); err != nil {
			return err
		}
		var found []Link
		if err := tx.NewRaw(`SELECT * FROM record_chain WHERE left(hash, 16) = ?`, code).Scan(ctx, &found); err != nil || len(found) == 0 {
			return err
		}
		if len(found) > 1 { // two links sharing 64 bits of hash: say nothing either way
			return nil
		}
		lis := found[0].LisID
		if _, err := tx.ExecContext(ctx, `SELECT set_config('app.chain_code', '', true), set_config('app.chain_lis', ?::text, true), set_config('app.chain_verify', 'on', true)`, lis); err != nil {
			return err
		}
		var links []Link
		if err := tx.NewRaw(`SELECT * FROM record_chain WHERE lis_id = ? ORDER BY seq`, lis).Scan(ctx, &links); err != nil {
			return err
		}
		rows := map[string]row{}
		for kind := range content {
			var tids, ids []uuid.UUID
			for _, l := range links {
				if l.Kind == kind {
					tids, ids = append(tids, l.TenantID), append(ids, l.RefID)
				}
			}
			if len(ids) == 0 {
				continue
			}
			var rs []row
			if err := tx.NewRaw(content[kind]+` WHERE (`+alias(kind)+`.tenant_id, `+alias(kind)+`.id) IN (SELECT * FROM unnest(?::uuid[], ?::uuid[]))`,
				pgdialect.Array(tids), pgdialect.Array(ids)).Scan(ctx, &rs); err != nil {
				return err
			}
			for _, r := range rs {
				rows[kind+r.TenantID.String()+r.ID.String()] = r
			}
		}
		res = &Result{Valid: check(links, rows), At: found[0].At}
		return nil
	})
	return res, err
}

// check is the verification proper.
func check(links []Link, rows map[string]row) bool {
	last := map[string]int{} // the newest link of each row
	for i, l := range links {
		last[l.Kind+l.TenantID.String()+l.RefID.String()] = i
	}
	prev := ""
	for i, l := range links {
		if l.Seq != int64(i+1) || l.PrevHash != prev || l.sum() != l.Hash {
			return false
		}
		prev = l.Hash
		key := l.Kind + l.TenantID.String() + l.RefID.String()
		r, ok := rows[key]
		if !ok {
			continue // erased: the hashes stand for it
		}
		if r.LisID != l.LisID {
			return false
		}
		if l.Kind == KindSignature {
			// Signatures are never updated: the row is what was signed.
			if hashOf(r.Content) != l.ContentHash {
				return false
			}
			continue
		}
		// A goal's row holds its newest decision only: a returned goal is
		// sent and decided again, a stricter catalogue reopens it, a move
		// returns what waited. The decision the link was made of is still
		// there when the decision time is the link's.
		if r.At != nil && r.At.UnixMicro() == l.At.UnixMicro() {
			if hashOf(r.Content) != l.ContentHash {
				return false
			}
			continue
		}
		// An approval or rejection newer than the goal's newest link was
		// not made through kportal.
		if last[key] == i && r.Status != nil && (*r.Status == "approved" || *r.Status == "rejected") {
			return false
		}
	}
	return true
}
