from django import forms

CHANNELS = [("email", "By email"), ("webhook", "By webhook (a program of yours receives a signed POST)")]


def follow_choices(developers) -> list:
    """Grouped by developer: the whole developer, then each model the register lists of it."""
    return [
        (
            d["name"],
            [
                (d["slug"], f"Every model of {d['name']}"),
                *[(f"{d['slug']}/{m}", f"{d['name']}: {m}") for m in d["models"]],
            ],
        )
        for d in developers
    ]


class FollowForm(forms.Form):
    follow = forms.ChoiceField(label="What to follow")
    channel = forms.ChoiceField(label="How to be told", choices=CHANNELS, widget=forms.RadioSelect, initial="email")
    # Not stripped here: the service refuses control characters rather than hiding them.
    email = forms.CharField(
        label="Your email address", required=False, max_length=254, strip=False, widget=forms.EmailInput
    )
    url = forms.CharField(
        label="Your endpoint's URL",
        required=False,
        max_length=500,
        strip=False,
        widget=forms.URLInput,
        help_text="An https:// URL on the public internet. It must answer our challenge before it receives anything.",
    )

    def __init__(self, *args, developers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["follow"].choices = [("", "Choose a developer or a model"), *follow_choices(developers)]

    def clean(self):
        data = super().clean()
        if data.get("channel") == "email" and not data.get("email"):
            self.add_error("email", "Enter the email address to tell.")
        if data.get("channel") == "webhook" and not data.get("url"):
            self.add_error("url", "Enter the URL of the endpoint to call.")
        return data
