package clients

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/kiwistack/endpoint/launchers/catalog"
)

func TestElementConfig(t *testing.T) {
	for _, tc := range []struct {
		routing catalog.Routing
		want    string
	}{
		{catalog.Subdomain, "https://chat.od.acme.kiwistack.io"},
		{catalog.Path, "https://od.acme.kiwistack.io/chat"},
	} {
		c, _ := catalog.Defaults("acme", tc.routing)
		b, err := ElementConfig(c.Launcher("chat"))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]map[string]map[string]string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		if hs := got["default_server_config"]["m.homeserver"]["base_url"]; hs != tc.want || len(got) != 1 {
			t.Errorf("%s: %s", tc.routing, b)
		}
		if _, err := ElementConfig(c.Launcher("mail")); err == nil {
			t.Errorf("a web launcher got an Element config")
		}
	}
}

func TestArgv(t *testing.T) {
	c, _ := catalog.Defaults("acme", catalog.Path)
	if got, want := NextcloudArgv(c.Launcher("files")), []string{"nextcloud", "--overrideserverurl", "https://od.acme.kiwistack.io/files/"}; !reflect.DeepEqual(got, want) {
		t.Errorf("%q", got)
	}
	if got, want := ElementArgv(), []string{"element-desktop", "--config=/etc/kiwistack/element-desktop/config.json"}; !reflect.DeepEqual(got, want) {
		t.Errorf("%q", got)
	}
}
