"""IMFlask core: configuration per environment and the generic Flask factory.

Keep this file free of imports: the worker and the models import
``imflask_core.config`` and must not pull Flask in through the package.
"""
