"""The staff form on a ticket's admin change page: status, action taken and a reply."""

from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model

from tickets.models import TRANSITIONS, Status, Ticket
from tickets.services import MESSAGE_MAX


class TicketAdminForm(forms.ModelForm):
    """Status, assignee and action taken are not model fields here: services write them."""

    assignee = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    # The hidden copy of the status the page was rendered with: only a change the staff member made
    # is applied (a reply may have moved the ticket meanwhile).
    status = forms.ChoiceField(choices=Status.choices, show_hidden_initial=True)
    action_taken = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="The resolution details the customer receives. Required to resolve.",
    )
    reply = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        max_length=MESSAGE_MAX,
        help_text="Sent to the customer on the ticket's channel when you save.",
    )
    internal_note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=MESSAGE_MAX,
        help_text="Kept on the ticket for staff. Never sent to the customer.",
    )

    class Meta:
        model = Ticket
        fields = ("title",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ticket = self.instance
        current = Status(ticket.status)
        allowed = [current, *sorted(TRANSITIONS[current], key=list(Status).index)]
        rendered = self.data.get(self.add_initial_prefix("status")) if self.is_bound else None
        if rendered in Status.values and rendered not in allowed:
            # The page showed an older status: left as it was, it is valid (and not applied).
            allowed.append(Status(rendered))
        cast(forms.ChoiceField, self.fields["status"]).choices = [(s.value, s.label) for s in allowed]
        self.fields["status"].initial = current.value
        self.fields["action_taken"].initial = ticket.action_taken
        cast(forms.ModelChoiceField, self.fields["assignee"]).queryset = get_user_model().objects.filter(
            is_staff=True, is_active=True
        )
        self.fields["assignee"].initial = ticket.assignee_id

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        ticket = self.instance
        new = data.get("status")
        action = (data.get("action_taken") or "").strip()
        if new and new != ticket.status and "status" in self.changed_data:
            if not ticket.can_move_to(Status(new)):
                self.add_error("status", f"{ticket.get_status_display()} -> {Status(new).label} is not allowed")
            elif new == Status.RESOLVED and not action:
                self.add_error("action_taken", "Write the action taken to resolve the ticket.")
        elif action != ticket.action_taken:
            self.add_error("action_taken", "The action taken is recorded when you choose Resolved.")
        return data
