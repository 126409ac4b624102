//go:build linux

package enrollment

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiwistack/endpoint/enroll"
	"github.com/kiwistack/endpoint/enroll/apiclient"
	"github.com/kiwistack/endpoint/enroll/protocol"
	"github.com/kiwistack/endpoint/enroll/yubikey"
	"github.com/kiwistack/endpoint/test/e2e"
	"github.com/kiwistack/endpoint/test/pcsctest"
)

// pinUI answers the PIN at once and needs no touch (the virtual key
// touches itself): what is left is the machine's share of the ceremony.
type pinUI struct{ pin string }

func (u pinUI) PIN(context.Context, yubikey.PINRequest) (string, error) { return u.pin, nil }
func (pinUI) Touch(yubikey.Info) func()                                 { return func() {} }
func (pinUI) Choose(context.Context, []yubikey.Info) (int, error)       { return 0, nil }
func (pinUI) Secret(context.Context, yubikey.SecretRequest) (string, error) {
	return "", errors.New("no secret is asked during enrollment")
}

// BenchmarkEnrollment is one whole enrollment over loopback, excluding the
// person's PIN typing and touch: open the virtual YubiKey through pcscd,
// device key and CSR, challenge, PIN verify and slot 9a signature, every
// check of the API, step-ca signing, the store's transaction, the laptop's
// checks of the answer and the installation of the files. Each iteration
// is a new laptop (its own hardware fingerprint and sandbox root).
func BenchmarkEnrollment(b *testing.B) {
	pcsctest.Require(b)
	// The touch is the person's share: the key touches itself at once.
	tn, admin := startWithAdmin(b, pcsctest.Options{Version: "5.7.1", TouchDelay: -1})
	e := enroll.Enroller{
		Client: yubikey.NewClient(yubikey.WithReaders(admin.Key.Reader)),
		UI:     pinUI{pin: admin.PIN},
		Dial: func(ctx context.Context, apiURL, fp string) (enroll.API, error) {
			return apiclient.Dial(ctx, apiURL, fp)
		},
	}
	base := b.TempDir()
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		root := filepath.Join(base, strconv.Itoa(i))
		_, err := e.Enroll(ctx, enroll.EnrollOptions{APIURL: tn.APIURL, Tenant: "acme-corp", RootFingerprint: tn.Fingerprint,
			Root: root, HardwareFingerprint: fmt.Sprintf("hw1:bench-%064d-%d", i, time.Now().UnixNano())})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = os.RemoveAll(base)
}

// BenchmarkAPIMemoryAtRest reports the resident memory of `kiwistack-api
// dev` (step-ca, store and API in one process) once it has started and
// answered its first enrollment challenge, then sat idle for a second.
// Run with -benchtime 1x: the time per operation is a process start and
// means nothing; the metric is rss-MB.
func BenchmarkAPIMemoryAtRest(b *testing.B) {
	vk := pcsctest.Start(b, pcsctest.Options{Version: "5.7.1"})
	attRoot := e2e.WriteAttestationRoot(b, vk.Root)
	var rss float64
	for b.Loop() {
		tn := e2e.StartTenant(b, attRoot)
		c, err := apiclient.Dial(context.Background(), tn.APIURL, tn.Fingerprint)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Challenge(context.Background(), protocol.ChallengeRequest{Operation: protocol.OpEnrollDevice, Tenant: "acme-corp",
			Params: map[string]string{protocol.ParamHardwareFingerprint: "hw1:rest", protocol.ParamDeviceKeySHA256: strings.Repeat("ab", 32),
				protocol.ParamWireGuardPublicKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(time.Second)
		kb, err := vmRSS(tn.PID)
		if err != nil {
			b.Fatal(err)
		}
		rss = float64(kb) / 1024
		tn.Stop()
	}
	b.ReportMetric(rss, "rss-MB")
}

// vmRSS reads a process's resident set size in KiB from /proc.
func vmRSS(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}
