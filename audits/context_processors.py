from django.conf import settings


def simulated_models(request):
    """`simulated_models` is True when model calls go to the fake Messages API (make run
    without ANTHROPIC_API_KEY); templates/audits/simulated_banner.html shows it."""
    return {"simulated_models": bool(getattr(settings, "SIMULATED_MODELS", False))}
