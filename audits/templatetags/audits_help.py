from django import template

from audits.simhelp import simulated_answers

register = template.Library()


@register.simple_tag
def simulated_help() -> dict:
    prompts, default = simulated_answers()
    return {"prompts": prompts, "default": default}
