package auditlog

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kiwistack/endpoint/server/dev"
	"github.com/kiwistack/endpoint/server/store"
	_ "modernc.org/sqlite"
)

// seeded returns a state directory whose store holds n audit entries.
func seeded(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dev.DBPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range n {
		if _, err := st.AppendAudit(context.Background(), store.AuditRecord{Actor: uint32(1000 + i), Operation: "enroll_device",
			ParamsDigest: "d", Result: "accepted"}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestListAndVerify(t *testing.T) {
	dir := seeded(t, 3)
	var out bytes.Buffer
	if err := List(context.Background(), &out, dir, 1, 10, true); err != nil {
		t.Fatal(err)
	}
	var es []Entry
	if err := json.Unmarshal(out.Bytes(), &es); err != nil || len(es) != 2 || es[0].Seq != 2 || es[1].PrevHash != es[0].Hash {
		t.Fatalf("list after 1: %v %s", err, out.String())
	}
	out.Reset()
	if err := List(context.Background(), &out, dir, 0, 10, false); err != nil || !strings.Contains(out.String(), "enroll_device") {
		t.Errorf("text list: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := Verify(context.Background(), &out, dir, false); err != nil || !strings.Contains(out.String(), "intact: 3 entries") {
		t.Errorf("verify: %v\n%s", err, out.String())
	}
	if err := List(context.Background(), &out, dir, 0, 0, false); err == nil {
		t.Error("limit 0 accepted")
	}
}

func TestVerifyFindsEditedEntry(t *testing.T) {
	dir := seeded(t, 4)
	db, err := sql.Open("sqlite", dev.DBPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit SET result = 'rejected' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var out bytes.Buffer
	err = Verify(context.Background(), &out, dir, true)
	if !errors.Is(err, store.ErrAuditBroken) {
		t.Fatalf("err = %v, want ErrAuditBroken", err)
	}
	var h Head
	if json.Unmarshal(out.Bytes(), &h) != nil || h.Intact || h.Seq != 2 {
		t.Errorf("head %s", out.String())
	}
}

func TestNoState(t *testing.T) {
	if err := Verify(context.Background(), &bytes.Buffer{}, t.TempDir(), false); !errors.Is(err, dev.ErrNoState) {
		t.Errorf("err = %v, want ErrNoState", err)
	}
}
