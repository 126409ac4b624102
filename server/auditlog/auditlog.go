// Package auditlog is the server-side view of a tenant's audit log for
// `kiwistack-api audit list|verify --state DIR`: it prints entries and
// checks the hash chain (server/store.VerifyAudit) of a dev state
// directory. It reads only; the API and the store write the log.
package auditlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/store"
)

// MaxList bounds one List call.
const MaxList = 10000

// Entry is one entry in the output of `audit list --json` (version 1:
// fields are only ever added).
type Entry struct {
	Seq          int64  `json:"seq"`
	Time         string `json:"time"`
	Actor        uint32 `json:"actor"`
	Operation    string `json:"operation"`
	ParamsDigest string `json:"params_digest,omitempty"`
	Result       string `json:"result"`
	Reason       string `json:"reason,omitempty"`
	PrevHash     string `json:"prev_hash"`
	Hash         string `json:"hash"`
}

// Head is the output of `audit verify --json`.
type Head struct {
	Intact  bool   `json:"intact"`
	Entries int64  `json:"entries"`
	Head    string `json:"head"`
	// Seq and Problem name the first bad entry when Intact is false.
	Seq     int64  `json:"seq,omitempty"`
	Problem string `json:"problem,omitempty"`
}

// List prints up to limit entries with a sequence number above after, in
// order, from the state directory dir.
func List(ctx context.Context, w io.Writer, dir string, after int64, limit int, asJSON bool) error {
	if limit <= 0 || limit > MaxList {
		return fmt.Errorf("limit %d: want 1 to %d", limit, MaxList)
	}
	st, err := dev.OpenStore(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	entries, err := st.AuditEntries(ctx, after, limit)
	if err != nil {
		return fmt.Errorf("reading the audit log: %w", err)
	}
	out := make([]Entry, len(entries))
	for i, e := range entries {
		out[i] = Entry{Seq: e.Seq, Time: e.Time.UTC().Format(time.RFC3339), Actor: e.Actor, Operation: e.Operation,
			ParamsDigest: e.ParamsDigest, Result: e.Result, Reason: e.Reason, PrevHash: e.PrevHash, Hash: e.Hash}
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(out) == 0 {
		_, err := fmt.Fprintln(w, "No audit entries.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tOPERATION\tRESULT\tREASON\tHASH")
	for _, e := range out {
		actor := "operator"
		if e.Actor != 0 {
			actor = fmt.Sprint(e.Actor)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%.16s…\n", e.Seq, e.Time, actor, e.Operation, e.Result, orDash(e.Reason), e.Hash)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Verify checks the whole hash chain of the state directory dir and prints
// its head, or the first entry that was edited, removed, inserted or
// reordered; the error then wraps store.ErrAuditBroken.
func Verify(ctx context.Context, w io.Writer, dir string, asJSON bool) error {
	st, err := dev.OpenStore(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	head, verr := st.VerifyAudit(ctx)
	out := Head{Intact: verr == nil, Entries: head.Seq, Head: head.Hash}
	var ae *store.AuditError
	if errors.As(verr, &ae) {
		out.Seq, out.Problem = ae.Seq, ae.Problem
	} else if verr != nil {
		return fmt.Errorf("verifying the audit log: %w", verr)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else if out.Intact {
		fmt.Fprintf(w, "Audit log intact: %d entries, head %s.\nKeep the head elsewhere (a ticket, a signed note): a later verify that ends before it shows truncation.\n", out.Entries, out.Head)
	}
	if verr != nil {
		return fmt.Errorf("audit log tampered with at entry %d: %s; restore the database from a backup and investigate who had write access: %w", out.Seq, out.Problem, verr)
	}
	return nil
}
